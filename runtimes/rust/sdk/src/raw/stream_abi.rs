//! The module's stream functions (a call's answer in chunks), looked up at run time like the
//! task functions: all optional, absent in modules older than streams (then no call is a
//! stream and every send answers "not a stream").

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use super::module_abi::lookup;

/// `int ngx_http_resty_ffi_task_streaming(void *task)`
pub type TaskStreamingFn = unsafe extern "C" fn(task: *mut c_void) -> c_int;
/// `int ngx_http_resty_ffi_task_send(void *task, const char *buf, size_t len)` (and the
/// same signature for `ngx_http_resty_ffi_task_try_send`)
pub type TaskSendFn = unsafe extern "C" fn(task: *mut c_void, buf: *const c_char, len: usize) -> c_int;

/// What a send of a chunk came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The chunk is on its way (copied by the module).
    Sent,
    /// Only from [`StreamAbi::try_send`]: the caller's window is full, nothing was sent.
    WindowFull,
    /// The caller stopped reading (closed the stream, timed out, its request ended): send
    /// no more, then answer the task.
    Cancelled,
    /// The task is not a stream call in the runtime's hands (a plain call, answered, a stale
    /// handle, nginx's thread for a blocking send), or the module has no streams.
    NotStream,
}

/// The module's stream functions. Get them with [`stream_abi`].
#[derive(Debug)]
pub struct StreamAbi {
    streaming: Option<TaskStreamingFn>,
    send: Option<TaskSendFn>,
    try_send: Option<TaskSendFn>,
}

fn resolve() -> StreamAbi {
    let streaming = lookup(c"ngx_http_resty_ffi_task_streaming");
    let send = lookup(c"ngx_http_resty_ffi_task_send");
    let try_send = lookup(c"ngx_http_resty_ffi_task_try_send");
    // SAFETY: the module exports these names with exactly these signatures (runtime ABI).
    unsafe {
        StreamAbi {
            streaming: streaming.map(|p| std::mem::transmute::<*mut c_void, TaskStreamingFn>(p)),
            send: send.map(|p| std::mem::transmute::<*mut c_void, TaskSendFn>(p)),
            try_send: try_send.map(|p| std::mem::transmute::<*mut c_void, TaskSendFn>(p)),
        }
    }
}

/// The module's stream functions, looked up once per process (each None outside nginx or
/// in a module older than streams).
pub fn stream_abi() -> &'static StreamAbi {
    static ABI: OnceLock<StreamAbi> = OnceLock::new();
    ABI.get_or_init(resolve)
}

fn sent_of(rc: c_int) -> Sent {
    match rc {
        0 => Sent::Sent,
        1 => Sent::WindowFull,
        rc if rc == super::RC_CANCELLED => Sent::Cancelled,
        _ => Sent::NotStream,
    }
}

impl StreamAbi {
    /// Whether the module has streams at all.
    pub fn available(&self) -> bool {
        self.streaming.is_some() && self.send.is_some() && self.try_send.is_some()
    }

    /// Whether the task's caller reads its answer as a stream (`rt:stream_x(...)` in Lua).
    ///
    /// # Safety
    /// `task` came from a poll (the module checks the handle; a stale one answers false).
    pub unsafe fn streaming(&self, task: *mut c_void) -> bool {
        match self.streaming {
            // SAFETY: per this function's contract.
            Some(f) => (unsafe { f(task) }) == 1,
            None => false,
        }
    }

    /// Sends one chunk (copied), waiting while the caller's window is full. Never call it
    /// on nginx's thread, nor after the task is answered.
    ///
    /// # Safety
    /// `task` came from a poll and is not answered yet, nor answered until this returns.
    pub unsafe fn send(&self, task: *mut c_void, chunk: &[u8]) -> Sent {
        let Some(send) = self.send else {
            return Sent::NotStream;
        };
        // SAFETY: per this function's contract; `chunk` is valid for its length.
        sent_of(unsafe { send(task, chunk.as_ptr().cast(), chunk.len()) })
    }

    /// As [`send`](Self::send), but [`Sent::WindowFull`] instead of waiting.
    ///
    /// # Safety
    /// As for [`send`](Self::send).
    pub unsafe fn try_send(&self, task: *mut c_void, chunk: &[u8]) -> Sent {
        let Some(try_send) = self.try_send else {
            return Sent::NotStream;
        };
        // SAFETY: per this function's contract; `chunk` is valid for its length.
        sent_of(unsafe { try_send(task, chunk.as_ptr().cast(), chunk.len()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_nginx_there_are_no_streams() {
        let abi = stream_abi();
        assert!(!abi.available());
        let task = 0x1000 as *mut c_void;
        // SAFETY: without the module, none of these reach a function pointer.
        unsafe {
            assert!(!abi.streaming(task));
            assert_eq!(abi.send(task, b"x"), Sent::NotStream);
            assert_eq!(abi.try_send(task, b"x"), Sent::NotStream);
        }
    }

    #[test]
    fn return_codes_map_to_outcomes() {
        assert_eq!(sent_of(0), Sent::Sent);
        assert_eq!(sent_of(1), Sent::WindowFull);
        assert_eq!(sent_of(super::super::RC_CANCELLED), Sent::Cancelled);
        assert_eq!(sent_of(-1), Sent::NotStream);
    }
}
