//! libffi_java.so: the resty-ffi runtime library that serves `ngx.load_ffi` calls with Java.
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_java", "demo.echo.App,init,some cfg")
//! ```
//! cfg is `<class>[?],<method>,<cfg>` (the original lua-resty-ffi's contract): the class (dots
//! as package separators) has `static int method(String cfg, long tq)`; 0 = serving. A trailing
//! `?` loads the class's package afresh (code reload). The JVM is created once per worker from
//! `CLASSPATH` and `JAVA_OPTS`; see docs/java.md.

mod jvm_locate;
mod jvm_options;
mod jvm_start;
mod jvm_thread;
mod load_failure;
mod module_api;
mod natives;
mod nginx_log;
mod startup_abort;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    if let Err(e) = module_api::get() {
        nginx_log::log(nginx_log::ERR, &format!("ffi_java: {e}"));
        return 1;
    }
    if cfg.is_null() {
        nginx_log::log(
            nginx_log::ERR,
            "ffi_java: cfg is required: \"<class>[?],<method>,<cfg>\"",
        );
        return 1;
    }
    // SAFETY: the module passes a NUL-terminated string that lives until we return.
    let cfg = match unsafe { CStr::from_ptr(cfg) }.to_str() {
        Ok(s) => s.to_string(),
        Err(_) => {
            nginx_log::log(nginx_log::ERR, "ffi_java: cfg is not valid UTF-8");
            return 1;
        }
    };
    match jvm_thread::load(cfg, tq as usize as i64) {
        Ok(()) => 0,
        Err(failure) => {
            // Logged on the nginx worker thread: the module adds it to load_ffi's error.
            nginx_log::log(nginx_log::ERR, &failure.message);
            failure.rc
        }
    }
}

/// # Safety
/// Called by the module with a C string (or NULL) and the runtime's task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    catch_unwind(AssertUnwindSafe(|| init(cfg, tq))).unwrap_or_else(|_| {
        nginx_log::log(nginx_log::ERR, "ffi_java: panic in libffi_init");
        1
    })
}
