//! The built-in Python module `resty_ffi`: the native parts (TaskQueue, Task, log, levels,
//! answer codes, shared dictionaries) plus the Python helpers of `python/resty_ffi.py`, run in the module's namespace.

use std::ffi::c_int;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use resty_ffi_loader_host::log_text;
use resty_ffi_sdk::raw::{self, level};

use crate::py_shdict::{shared_dict, SharedDict, SharedDictError};
use crate::py_task::{Task, TaskQueue};

const HELPERS: &str = include_str!("python/resty_ffi.py");

/// Writes one line to nginx's error.log (`[resty_ffi] <msg>`), or to stderr outside nginx.
/// Any thread, never blocks.
#[pyfunction]
fn log(level: c_int, msg: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(b) = msg.cast::<PyBytes>() {
        log_text(level, b.as_bytes());
    } else {
        let s = msg.str()?;
        log_text(level, s.to_str()?.as_bytes());
    }
    Ok(())
}

/// Runs Python source in `module`'s namespace, under `filename` in tracebacks.
pub fn exec_in(module: &Bound<'_, PyModule>, source: &str, filename: &str) -> PyResult<()> {
    let py = module.py();
    let builtins = py.import("builtins")?;
    let code = builtins
        .getattr("compile")?
        .call1((PyString::new(py, source), filename, "exec"))?;
    builtins.getattr("exec")?.call1((code, module.dict()))?;
    Ok(())
}

#[pymodule]
#[pyo3(name = "resty_ffi")]
pub fn resty_ffi_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TaskQueue>()?;
    m.add_class::<Task>()?;
    m.add("StreamCancelled", m.py().get_type::<crate::py_task::StreamCancelled>())?;
    m.add("NotStream", m.py().get_type::<crate::py_task::NotStream>())?;
    m.add_function(wrap_pyfunction!(log, m)?)?;
    m.add_class::<SharedDict>()?;
    m.add_function(wrap_pyfunction!(shared_dict, m)?)?;
    m.add("SharedDictError", m.py().get_type::<SharedDictError>())?;
    for (name, level) in [
        ("EMERG", level::EMERG),
        ("ALERT", level::ALERT),
        ("CRIT", level::CRIT),
        ("ERR", level::ERR),
        ("WARN", level::WARN),
        ("NOTICE", level::NOTICE),
        ("INFO", level::INFO),
        ("DEBUG", level::DEBUG),
    ] {
        m.add(name, level)?;
    }
    // The reserved answer codes of abi/resty_ffi.h (RESTY_FFI_RC_*), the same in every language.
    for (name, rc) in [
        ("RC_ERROR", resty_ffi_sdk::RC_ERROR),
        ("RC_PANICKED", resty_ffi_sdk::RC_PANICKED),
        ("RC_DROPPED", resty_ffi_sdk::RC_DROPPED),
        ("RC_NO_MEMORY", resty_ffi_sdk::RC_NO_MEMORY),
        ("RC_CANCELLED", raw::RC_CANCELLED),
    ] {
        m.add(name, rc)?;
    }
    m.add("LOGS_TO_NGINX", raw::logs_to_nginx())?;
    exec_in(m, HELPERS, "<resty_ffi>/resty_ffi.py")
}
