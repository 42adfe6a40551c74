//! Write resty-ffi runtimes in safe Rust.
//!
//! A runtime is a `cdylib` that nginx's Lua code loads with `ngx.load_ffi`. With this crate
//! it is a few lines:
//!
//! ```no_run
//! use resty_ffi_sdk::Init;
//!
//! fn start(init: Init) -> Result<(), String> {
//!     let prefix = init.cfg().unwrap_or("").to_string();
//!     init.serve(2, move |req| Ok([prefix.as_bytes(), req].concat()))
//!         .map_err(|e| e.to_string())
//! }
//!
//! resty_ffi_sdk::runtime!(start);
//! ```
//!
//! - `Ok(bytes)` reaches Lua as `true, bytes`; `Err((rc, bytes))` as `false, rc, bytes`.
//! - A panicking handler answers `false, RC_PANICKED, "handler panicked: ..."` and the
//!   runtime keeps serving; a [`Task`] dropped unanswered answers `RC_DROPPED` by itself.
//! - An `Err` from the init function fails `ngx.load_ffi` with that message (it is logged at
//!   `error` level, and the module hands the last such line to Lua).
//! - The `log` crate writes into nginx's error.log (`[resty_ffi] target: message`), filtered
//!   by the `error_log` level.
//! - Feature `tokio`: [`Init::serve_async`] runs an `async fn(Vec<u8>) -> Reply` with many
//!   calls in flight. Feature `json` (default): [`Init::cfg_json`].
//! - Deadlines and cancellation: when a Lua caller gives up (timeout, client abort,
//!   ngx.exit, ...) the async server drops the call's future and answers [`RC_CANCELLED`];
//!   [`Init::serve_with`] / [`Init::serve_async_with`] hand handlers a [`CallInfo`] with the
//!   call's `deadline()` and `is_cancelled()`; [`Task`] has both too.
//! - [`SharedDict`]: nginx's shared dictionaries (`lua_shared_dict`) from any thread, the
//!   same values, flags and expiry as Lua's `ngx.shared.DICT` ([`shdict`]).
//! - Streams (`rt:stream_x(req)` in Lua): [`Init::serve_stream`] /
//!   [`Init::serve_async_stream`] hand handlers a [`ChunkSender`] (`send`, `try_send`,
//!   `send_async` on tokio); the reply ends the stream. [`Task::stream_send`] and
//!   [`Task::is_stream`] for runtimes that poll by hand.
//! - [`raw`]: the module's ABI itself and logging, for runtimes that drive the ABI by hand
//!   and for the loaders that host another language (no feature needed).

mod body;
mod logger;
pub mod raw;
mod serve;
#[cfg(feature = "tokio")]
mod serve_tokio;
pub mod shdict;
mod stream;
mod task;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use body::{Body, NoMemory};
pub use serve::{serve, serve_into, serve_with, BodyResult};
#[cfg(feature = "tokio")]
pub use serve_tokio::serve_async_stream;
#[cfg(feature = "tokio")]
pub use serve_tokio::{serve_async, serve_async_with};
pub use shdict::SharedDict;
pub use stream::{serve_stream, ChunkSender, SendError};
pub use task::{CallInfo, Reply, Task, TaskId, TaskQueue};

/// A generic error (an `Err((0, ..))` reply becomes this).
pub const RC_ERROR: i32 = resty_ffi_abi::rc::ERROR;
/// The handler panicked.
pub const RC_PANICKED: i32 = resty_ffi_abi::rc::PANICKED;
/// The task was dropped without an answer.
pub const RC_DROPPED: i32 = resty_ffi_abi::rc::DROPPED;
/// No memory for the answer.
pub const RC_NO_MEMORY: i32 = resty_ffi_abi::rc::NO_MEMORY;
/// The call was cancelled: its caller gave up (the module answers so for a call given up on
/// before a runtime took it; the async server for a handler future it dropped).
pub const RC_CANCELLED: i32 = resty_ffi_abi::rc::CANCELLED;

/// What `libffi_init` received: the cfg string and the task queue.
pub struct Init {
    cfg: Option<String>,
    queue: TaskQueue,
}

impl Init {
    /// The cfg string given to `ngx.load_ffi` (None if nil).
    pub fn cfg(&self) -> Option<&str> {
        self.cfg.as_deref()
    }

    /// The cfg parsed as JSON into the runtime's own config type.
    #[cfg(feature = "json")]
    pub fn cfg_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let text = self.cfg.as_deref().ok_or("cfg is required (JSON), got nil")?;
        serde_json::from_str(text).map_err(|e| format!("bad cfg: {e}"))
    }

    /// The task queue, to poll it yourself.
    pub fn queue(&self) -> TaskQueue {
        self.queue
    }

    /// Serves with a blocking handler on `threads` threads; see [`serve`].
    pub fn serve<H>(self, threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(&[u8]) -> Reply + Send + Sync + 'static,
    {
        serve::serve(self.queue, threads, handler)
    }

    /// Serves with a blocking handler that also gets its call's [`CallInfo`] (deadline,
    /// cancellation); see [`serve_with`].
    pub fn serve_with<H>(self, threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(&[u8], &CallInfo) -> Reply + Send + Sync + 'static,
    {
        serve::serve_with(self.queue, threads, handler)
    }

    /// Serves with a blocking handler that writes its answer into a [`Body`] handed to the
    /// module without a copy; see [`serve_into`].
    pub fn serve_into<H>(self, threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(&[u8], &CallInfo, &mut Body) -> BodyResult + Send + Sync + 'static,
    {
        serve::serve_into(self.queue, threads, handler)
    }

    /// Serves with a blocking handler that may stream its answer in chunks; see
    /// [`serve_stream`].
    pub fn serve_stream<H>(self, threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(&[u8], &CallInfo, &ChunkSender) -> Reply + Send + Sync + 'static,
    {
        stream::serve_stream(self.queue, threads, handler)
    }

    /// Serves with an async handler that may stream its answer in chunks (with
    /// [`ChunkSender::send_async`]); see [`serve_async_stream`].
    #[cfg(feature = "tokio")]
    pub fn serve_async_stream<H, F>(self, worker_threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(Vec<u8>, CallInfo, ChunkSender) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Reply> + Send + 'static,
    {
        serve_tokio::serve_async_stream(self.queue, worker_threads, handler)
    }

    /// Serves with an async handler on tokio; see [`serve_async`].
    #[cfg(feature = "tokio")]
    pub fn serve_async<H, F>(self, worker_threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Reply> + Send + 'static,
    {
        serve_tokio::serve_async(self.queue, worker_threads, handler)
    }

    /// Serves with an async handler that also gets its call's [`CallInfo`]; see
    /// [`serve_async_with`].
    #[cfg(feature = "tokio")]
    pub fn serve_async_with<H, F>(self, worker_threads: usize, handler: H) -> std::io::Result<()>
    where
        H: Fn(Vec<u8>, CallInfo) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Reply> + Send + 'static,
    {
        serve_tokio::serve_async_with(self.queue, worker_threads, handler)
    }
}

/// Defines `libffi_init` from `fn(Init) -> Result<(), E>` (E: Display).
#[macro_export]
macro_rules! runtime {
    ($init:expr) => {
        /// Entry point called by ngx_http_resty_ffi_module.
        ///
        /// # Safety
        /// Called by the module with a C string or NULL and its task queue.
        #[no_mangle]
        pub unsafe extern "C" fn libffi_init(
            cfg: *mut ::std::ffi::c_char,
            tq: *mut ::std::ffi::c_void,
        ) -> ::std::ffi::c_int {
            // SAFETY: the module's arguments, passed on unchanged.
            unsafe { $crate::__private_init(cfg, tq, $init) }
        }
    };
}

/// Used by [`runtime!`]; not part of the API.
///
/// # Safety
/// `cfg` NULL or a C string, `tq` the module's queue.
#[doc(hidden)]
pub unsafe fn __private_init<E: Display>(
    cfg: *mut c_char,
    tq: *mut c_void,
    init: impl FnOnce(Init) -> Result<(), E>,
) -> c_int {
    logger::init();
    if let Err(e) = raw::module_abi() {
        log::error!("init failed: {e}");
        return 1;
    }
    let cfg = (!cfg.is_null()).then(|| CStr::from_ptr(cfg).to_string_lossy().into_owned());
    let init_arg = Init {
        cfg,
        queue: TaskQueue::from_raw(tq),
    };
    match catch_unwind(AssertUnwindSafe(|| init(init_arg))) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            log::error!("init failed: {e}");
            1
        }
        Err(p) => {
            log::error!("init panicked: {}", serve::panic_message(&*p));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    /// The reserved codes are the header's, the same in every language.
    #[test]
    fn codes_match_the_abi_header() {
        let header = include_str!("../../../../abi/resty_ffi.h");
        let normalized = header.split_whitespace().collect::<Vec<_>>().join(" ");
        for (name, code) in [
            ("RESTY_FFI_RC_ERROR", super::RC_ERROR),
            ("RESTY_FFI_RC_PANICKED", super::RC_PANICKED),
            ("RESTY_FFI_RC_DROPPED", super::RC_DROPPED),
            ("RESTY_FFI_RC_NO_MEMORY", super::RC_NO_MEMORY),
            ("RESTY_FFI_RC_CANCELLED", super::RC_CANCELLED),
        ] {
            let define = format!("#define {name} ({code})");
            assert!(normalized.contains(&define), "not in abi/resty_ffi.h: {define}");
        }
    }
}
