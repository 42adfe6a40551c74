//! What the language loaders (runtimes/python, runtimes/java, runtimes/nodejs) share: the
//! runtime libraries that host another language inside an nginx worker. Not a public SDK:
//! runtimes written in Rust use `resty-ffi-sdk`.
//!
//! - [`run_libffi_init`]: the body of a loader's `libffi_init` (cfg, panics, the failure
//!   logged where `load_ffi` reads it), with [`LoadFailure`] and [`required_cfg`].
//! - [`require_module`]: the module's task functions, or why this process has none.
//! - [`HostThread`]: the thread a language runs on (the JVM's, Node's), started with nginx's
//!   signals blocked and owned by the process that started it.
//! - [`spawn_with_nginx_signals_blocked`]: any other thread a loader starts.
//! - [`log_text`], [`log_error`], [`log_info`]: error.log lines, long texts cut to what nginx
//!   keeps of a line.

mod host_thread;
mod init_entry;
mod load_failure;
mod log_text;
mod module_check;
mod nginx_signals;

pub use host_thread::HostThread;
pub use init_entry::{required_cfg, run_libffi_init};
pub use load_failure::LoadFailure;
pub use log_text::{log_error, log_info, log_text};
pub use module_check::require_module;
pub use nginx_signals::spawn_with_nginx_signals_blocked;
