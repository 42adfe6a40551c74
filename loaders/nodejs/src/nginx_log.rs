//! Messages of the loader and of JS code (console.*, uncaught errors) into nginx's error.log.
//!
//! Through the module's `ngx_http_resty_ffi_log` (any thread, never blocks) when the module
//! has it; else on stderr, which nginx points at its error log.

use std::ffi::c_int;

use crate::module_api;

/// nginx's levels, as `ngx_http_resty_ffi_log` takes them.
pub const ERR: c_int = 4;

/// Logs `msg` at an nginx level (1 emerg .. 8 debug). An empty message is not logged.
pub fn log_bytes(level: c_int, msg: &[u8]) {
    if msg.is_empty() {
        return;
    }
    let level = level.clamp(1, 8);
    match module_api::log_fn() {
        Some(log) => {
            let len = c_int::try_from(msg.len()).unwrap_or(c_int::MAX);
            // SAFETY: the module's log function copies `len` bytes of our buffer.
            unsafe { log(level, msg.as_ptr().cast(), len) };
        }
        None => eprintln!("[resty_ffi] {}", String::from_utf8_lossy(msg)),
    }
}

pub fn log(level: c_int, msg: &str) {
    log_bytes(level, msg.as_bytes());
}
