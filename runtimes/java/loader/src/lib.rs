//! libffi_java.so: the resty-ffi runtime library that serves `ngx.load_ffi` calls with Java.
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_java", "demo.echo.App,init,some cfg")
//! ```
//! cfg is `<class>[?],<method>,<cfg>` (the original lua-resty-ffi's contract): the class (dots
//! as package separators) has `static int method(String cfg, long tq)`; 0 = serving. A trailing
//! `?` loads the class's package afresh (code reload). The JVM is created once per worker from
//! `CLASSPATH` and `JAVA_OPTS`; see runtimes/java/README.md.

mod jvm_locate;
mod jvm_options;
mod jvm_start;
mod jvm_thread;
mod load_failure;
mod natives;
mod startup_abort;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use resty_ffi_sdk::raw::{self, level};

/// The module's task functions, or why this process has none.
fn module_abi() -> Result<&'static raw::ModuleAbi, String> {
    raw::module_abi().map_err(|e| {
        format!(
            "symbol {} not found: libffi_java.so must be loaded by ngx.load_ffi with the \
             resty-ffi module loaded",
            e.name()
        )
    })
}

fn init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    if let Err(e) = module_abi() {
        raw::log_line(level::ERR, &format!("ffi_java: {e}"));
        return 1;
    }
    if cfg.is_null() {
        raw::log_line(
            level::ERR,
            "ffi_java: cfg is required: \"<class>[?],<method>,<cfg>\"",
        );
        return 1;
    }
    // SAFETY: the module passes a NUL-terminated string that lives until we return.
    let cfg = match unsafe { CStr::from_ptr(cfg) }.to_str() {
        Ok(s) => s.to_string(),
        Err(_) => {
            raw::log_line(level::ERR, "ffi_java: cfg is not valid UTF-8");
            return 1;
        }
    };
    match jvm_thread::load(cfg, tq as usize as i64) {
        Ok(()) => 0,
        Err(failure) => {
            // Logged on the nginx worker thread: the module adds it to load_ffi's error.
            raw::log_line(level::ERR, &failure.message);
            failure.rc
        }
    }
}

/// # Safety
/// Called by the module with a C string (or NULL) and the runtime's task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    catch_unwind(AssertUnwindSafe(|| init(cfg, tq))).unwrap_or_else(|_| {
        raw::log_line(level::ERR, "ffi_java: panic in libffi_init");
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_is_a_clear_error() {
        // A unit test process has no nginx module in it.
        let e = module_abi().err().unwrap_or_default();
        assert!(e.contains("ngx_http_lua_ffi_task_poll"), "{e}");
        assert!(e.contains("libffi_java.so"), "{e}");
        assert!(!raw::logs_to_nginx());
    }
}
