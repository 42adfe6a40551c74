//! The module's runtime ABI itself, without [`Task`](crate::Task) and
//! [`TaskQueue`](crate::TaskQueue): for loaders (runtime libraries that host another
//! language) and runtimes that drive the ABI by hand. Needs no optional feature.
//!
//! - [`module_abi`]: the task functions (poll, batch poll, request, respond, and the
//!   cancellation ones: cancelled, deadline, cancel poll), looked up at run time, so a
//!   library links and its unit tests run without nginx.
//! - [`stream_abi`]: the stream functions (streaming, send, try send), optional likewise.
//! - [`log_line`] / [`log_bytes`]: one line into nginx's error.log (stderr outside nginx),
//!   at a [`level`].
//!
//! Threads a runtime starts in `libffi_init` inherit the mask the module sets meanwhile, which
//! keeps nginx's signals on nginx's thread. What only the language loaders need (their
//! `libffi_init` glue, host threads) is their own crate, runtimes/rust/loader-host.

mod module_abi;
mod nginx_log;
mod stream_abi;

pub(crate) use module_abi::required as lookup_symbol;
pub use module_abi::{
    module_abi, CancelPollFn, GetReqFn, MissingSymbol, ModuleAbi, RespondFn, TaskCancelledFn, TaskDeadlineFn,
    TaskPollBatchFn, TaskPollFn, RC_CANCELLED,
};
pub use nginx_log::{level, log_bytes, log_line, logs_to_nginx, LogFn};
pub use stream_abi::{stream_abi, Sent, StreamAbi, TaskSendFn, TaskStreamingFn};
