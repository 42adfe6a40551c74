//! One CPython interpreter per nginx worker process, started by the first `libffi_init`
//! on the worker thread and never finalized (runtime threads may live until the process
//! ends). The GIL is released as soon as it is up: the worker thread takes it back only
//! while a runtime starts.
//!
//! How it is set up, and why:
//! - no signal handlers (nginx owns the signals);
//! - UTF-8 mode and no setlocale() (the nginx process keeps its C locale);
//! - program name = the Python this library was built against (PYO3_PYTHON), so that
//!   sys.prefix, the standard library and sys.executable are that Python's;
//! - the environment is honoured (PYTHONPATH etc., given to workers with nginx's `env`);
//! - this library stays mapped and libpython's symbols are global (`library_pins`);
//! - `resty_ffi` is a built-in module; the root logger writes to nginx's error.log.

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

use resty_ffi_loader_host::log_info;

use crate::library_pins;
use crate::py_module::{self, resty_ffi_module};

/// The Python executable the build linked against (see build.rs).
const PYTHON_EXECUTABLE: &str = env!("RESTY_FFI_PYTHON_EXECUTABLE");

fn status_error(what: &str, status: &ffi::PyStatus) -> String {
    let text = |p: *const std::ffi::c_char| {
        // SAFETY: PyStatus strings are static C strings or NULL.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    let msg = text(status.err_msg).unwrap_or_else(|| format!("exit code {}", status.exitcode));
    match text(status.func) {
        Some(func) => format!("{what}: {func}: {msg}"),
        None => format!("{what}: {msg}"),
    }
}

/// Py_PreInitialize + Py_InitializeFromConfig; the GIL is held by this thread on success.
fn initialize() -> Result<(), String> {
    let program = CString::new(PYTHON_EXECUTABLE).map_err(|_| "bad Python executable path".to_string())?;
    // SAFETY: the documented CPython init sequence on one thread, before any other Python
    // call in this process (checked by the caller); every config is initialized by its
    // Init function before use and cleared after.
    unsafe {
        let mut pre = std::mem::MaybeUninit::<ffi::PyPreConfig>::uninit();
        ffi::PyPreConfig_InitPythonConfig(pre.as_mut_ptr());
        let mut pre = pre.assume_init();
        pre.utf8_mode = 1;
        pre.configure_locale = 0;
        pre.coerce_c_locale = 0;
        pre.parse_argv = 0;
        let status = ffi::Py_PreInitialize(&pre);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_error("Python pre-initialization failed", &status));
        }

        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        let cfg: *mut ffi::PyConfig = &mut config;
        let status = ffi::PyConfig_SetBytesString(cfg, &raw mut (*cfg).program_name, program.as_ptr());
        if ffi::PyStatus_Exception(status) != 0 {
            ffi::PyConfig_Clear(&mut config);
            return Err(status_error("Python configuration failed", &status));
        }
        let status = ffi::Py_InitializeFromConfig(&config);
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            return Err(status_error("Python initialization failed", &status));
        }
    }
    Ok(())
}

/// `resty_ffi` in sys.modules when someone else started the interpreter (no inittab then).
fn register_module(py: Python<'_>) -> PyResult<()> {
    let module = pyo3::wrap_pymodule!(py_module::resty_ffi_module)(py);
    py.import("sys")?.getattr("modules")?.set_item("resty_ffi", module)
}

fn start() -> Result<(), String> {
    library_pins::pin()?;
    // SAFETY: a plain query, valid before initialization.
    let ours = unsafe { ffi::Py_IsInitialized() } == 0;
    if ours {
        pyo3::append_to_inittab!(resty_ffi_module);
        initialize()?;
        // SAFETY: this thread holds the GIL since initialize(); the thread state is kept
        // for good (the interpreter is never finalized).
        unsafe { ffi::PyEval_SaveThread() };
    }
    Python::attach(|py| -> PyResult<()> {
        if !ours {
            register_module(py)?;
        }
        py.import("resty_ffi")?.getattr("_install_logging")?.call0()?;
        Ok(())
    })
    .map_err(|e| format!("Python started but resty_ffi failed to set up: {e}"))?;
    let (version, prefix) = Python::attach(|py| -> PyResult<(String, String)> {
        let sys = py.import("sys")?;
        Ok((sys.getattr("version")?.extract()?, sys.getattr("prefix")?.extract()?))
    })
    .unwrap_or_default();
    log_info(&format!(
        "python: interpreter {} started (prefix {prefix}, logs to {})",
        version.split_whitespace().next().unwrap_or("?"),
        if resty_ffi_sdk::raw::logs_to_nginx() { "error.log" } else { "stderr" }
    ));
    Ok(())
}

/// Starts the interpreter on the first call; later calls return the first call's result.
pub fn ensure_started() -> Result<(), String> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED.get_or_init(start).clone()
}
