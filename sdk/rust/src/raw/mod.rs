//! The module's runtime ABI itself, without [`Task`](crate::Task) and
//! [`TaskQueue`](crate::TaskQueue): for loaders (runtime libraries that host another
//! language) and runtimes that drive the ABI by hand. Needs no optional feature.
//!
//! - [`module_abi`]: the task functions (poll, batch poll, request, respond; cancelled,
//!   deadline, cancel poll), looked up at run time, so a library links and its unit tests run
//!   without nginx.
//! - [`log_line`] / [`log_bytes`]: one line into nginx's error.log (stderr outside nginx),
//!   at a [`level`].
//! - [`with_nginx_signals_blocked`], [`spawn_with_nginx_signals_blocked`],
//!   [`block_nginx_signals`]: keep nginx's signals off the threads a runtime starts.

mod module_abi;
mod nginx_log;
mod nginx_signals;

pub use module_abi::{
    malloc_copy, module_abi, GetReqFn, MissingSymbol, ModuleAbi, RespondFn, TaskPollBatchFn, TaskPollFn,
};
pub use module_abi::{CancelPollFn, TaskCancelledFn, TaskDeadlineFn, RC_CANCELLED};
pub use nginx_log::{level, log_bytes, log_line, logs_to_nginx, LogFn};
pub use nginx_signals::{
    block_nginx_signals, spawn_with_nginx_signals_blocked, with_nginx_signals_blocked, NGINX_SIGNALS,
};
