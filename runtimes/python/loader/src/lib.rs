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
//! `runtime_start` runs one init; `py_module`, `py_task` and `py_shdict` (shared
//! dictionaries) are the `resty_ffi` Python
//! module, with its Python half in `python/resty_ffi.py` and the loader's in
//! `python/runtime_loader.py`. The module's exports (task functions, log) are found by
//! `resty_ffi_sdk::raw`; the `libffi_init` glue and log lines are the loaders' shared
//! `resty_ffi_loader_host`.

use std::ffi::{c_char, c_int, c_void};

mod interpreter;
mod library_pins;
mod py_module;
mod py_shdict;
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
    // SAFETY: per this function's contract.
    unsafe {
        resty_ffi_loader_host::run_libffi_init(cfg, "python: the loader panicked in libffi_init", |cfg| {
            runtime_start::start(cfg, tq)
        })
    }
}
