//! Lines into nginx's error.log through the module's `ngx_http_resty_ffi_log` (any thread,
//! never blocks; the line reads `[resty_ffi] <msg>`), or on stderr in the same shape where
//! the module is absent or older than the logging API (nginx points stderr at its error log).

use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::sync::OnceLock;

/// `void ngx_http_resty_ffi_log(int level, const char *msg, int len)`
pub type LogFn = unsafe extern "C" fn(level: c_int, msg: *const c_char, len: c_int);

/// nginx's log levels, as [`log_line`] takes them.
pub use resty_ffi_abi::log_level as level;

/// The module's log function, looked up once per process.
fn log_fn() -> Option<LogFn> {
    static LOG: OnceLock<Option<LogFn>> = OnceLock::new();
    *LOG.get_or_init(|| {
        let sym = super::module_abi::lookup(c"ngx_http_resty_ffi_log")?;
        // SAFETY: the module exports this name with exactly this signature.
        Some(unsafe { std::mem::transmute::<*mut c_void, LogFn>(sym) })
    })
}

/// Whether lines reach nginx's error.log through the module (else they go to stderr).
pub fn logs_to_nginx() -> bool {
    log_fn().is_some()
}

/// Logs `msg` at an nginx [`level`] (clamped to 1 emerg .. 8 debug). An empty message is
/// not logged.
pub fn log_bytes(level: c_int, msg: &[u8]) {
    if msg.is_empty() {
        return;
    }
    let level = level.clamp(level::EMERG, level::DEBUG);
    match log_fn() {
        Some(log) => {
            let len = c_int::try_from(msg.len()).unwrap_or(c_int::MAX);
            // SAFETY: `len` (> 0) readable bytes; the module copies them and never blocks.
            unsafe { log(level, msg.as_ptr().cast(), len) };
        }
        None => {
            let mut line = Vec::with_capacity(msg.len() + 13);
            line.extend_from_slice(b"[resty_ffi] ");
            line.extend_from_slice(msg);
            line.push(b'\n');
            // Nothing sensible to do if stderr is gone.
            let _ = std::io::stderr().write_all(&line);
        }
    }
}

/// Logs `msg` at an nginx [`level`]; see [`log_bytes`].
pub fn log_line(level: c_int, msg: &str) {
    log_bytes(level, msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_nginx_lines_go_to_stderr() {
        assert!(!logs_to_nginx());
        log_line(level::ERR, "raw::log_line test line");
        log_bytes(99, b"");
    }
}
