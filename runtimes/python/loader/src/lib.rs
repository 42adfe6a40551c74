//! libresty_ffi_python.so: a resty-ffi runtime library that embeds CPython, so that Python
//! modules serve `ngx.load_ffi` calls. Compatible with the original lua-resty-ffi loader:
//!
//! ```lua
//! local rt, err = ngx.load_ffi("resty_ffi_python", "[venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]",
//!                              { is_global = true })
//! ```
//!
//! imports `module` and calls `func(cfg, tq)` with both as Python ints (C pointers). The
//! module then serves tasks from `tq`: with the built-in `resty_ffi` module (no cffi) or by
//! calling the runtime ABI itself through cffi, as modules for the original do.
//!
//! Files: `spec` parses the cfg; `interpreter` starts CPython once per process, after
//! `library_pins` made it safe to (no unmapping, libpython's symbols global);
//! `runtime_start` runs one init; `nginx_log` writes log lines; `py_module` and `py_task`
//! are the `resty_ffi` Python module, with its Python half in `python/resty_ffi.py` and the
//! loader's in `python/runtime_loader.py`. The module's exports (task functions, log) are
//! found by `resty_ffi_sdk::raw`.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod interpreter;
mod library_pins;
mod nginx_log;
mod py_module;
mod py_task;
mod runtime_start;
mod spec;

/// The runtime ABI's entry point. Non-zero: the load fails; the reason is logged at error
/// level on this thread, so `ngx.load_ffi` returns it as part of its error.
///
/// # Safety
/// `cfg` is NULL or a C string; `tq` is the module's task queue for this runtime.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per this function's contract; the bytes are used before it returns.
        let cfg = (!cfg.is_null()).then(|| unsafe { CStr::from_ptr(cfg) }.to_bytes());
        runtime_start::start(cfg, tq)
    }));
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(failure)) => {
            nginx_log::error(&failure.message);
            if failure.rc == 0 { 1 } else { failure.rc }
        }
        Err(_) => {
            nginx_log::error("python: the loader panicked in libffi_init");
            1
        }
    }
}
