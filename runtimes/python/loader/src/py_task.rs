//! `resty_ffi.TaskQueue` and `resty_ffi.Task`: the runtime ABI for Python code, no cffi.
//!
//! ```python
//! q = resty_ffi.TaskQueue(tq)      # tq: the int handed to init(cfg, tq)
//! for task in q:                   # q.poll() until the runtime is unloaded
//!     task.respond(task.req.upper())
//! ```

use std::borrow::Cow;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use resty_ffi_loader_host::{log_text, require_module};
use resty_ffi_sdk::raw::{self, level, ModuleAbi};

/// The module's task functions, or why this process has none.
fn abi() -> PyResult<&'static ModuleAbi> {
    require_module("libresty_ffi_python.so").map_err(PyRuntimeError::new_err)
}

/// A runtime's task queue. Several threads may poll the same queue.
#[pyclass(module = "resty_ffi", name = "TaskQueue", frozen)]
pub struct TaskQueue {
    tq: usize,
    /// Set once a poll returned NULL: the queue must not be touched again.
    closed: AtomicBool,
}

#[pymethods]
impl TaskQueue {
    #[new]
    fn new(tq: usize) -> PyResult<Self> {
        if tq == 0 {
            return Err(PyValueError::new_err("TaskQueue(tq): tq is the int given to init(cfg, tq), not 0"));
        }
        abi()?;
        Ok(TaskQueue { tq, closed: AtomicBool::new(false) })
    }

    /// The next task, waiting without the GIL; None once the runtime is unloaded (after
    /// every task queued before the unload).
    fn poll(&self, py: Python<'_>) -> PyResult<Option<Task>> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(None);
        }
        let abi = abi()?;
        let tq = self.tq;
        // SAFETY: tq is the queue of a runtime and has not returned NULL to this object.
        let task = py.detach(move || unsafe { abi.poll(tq as *mut c_void) }.map_or(0, |t| t as usize));
        if task == 0 {
            self.closed.store(true, Ordering::Release);
            return Ok(None);
        }
        // SAFETY: a task just polled, not answered yet; the bytes are copied here.
        let req = PyBytes::new(py, unsafe { abi.request(task as *mut c_void) }.unwrap_or_default()).unbind();
        Ok(Some(Task { ptr: task, req, answered: AtomicBool::new(false) }))
    }

    /// True once poll() returned None.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Task>> {
        self.poll(py)
    }

    fn __repr__(&self) -> String {
        format!("<resty_ffi.TaskQueue 0x{:x}{}>", self.tq, if self.closed() { " closed" } else { "" })
    }
}

/// One call from Lua: `req` is the request, answer it once with `respond`.
#[pyclass(module = "resty_ffi", name = "Task", frozen)]
pub struct Task {
    ptr: usize,
    req: Py<PyBytes>,
    answered: AtomicBool,
}

/// The bytes of a response: bytes, str (UTF-8) or anything with a byte buffer.
fn response_bytes<'a>(data: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = data.cast::<PyString>() {
        return Ok(Cow::Owned(s.to_str()?.as_bytes().to_vec()));
    }
    let type_error = || {
        let name = data.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        PyTypeError::new_err(format!(
            "a response must be bytes, bytearray, memoryview, str or None, not {name}"
        ))
    };
    let buffer = PyBuffer::<u8>::get(data).map_err(|_| type_error())?;
    Ok(Cow::Owned(buffer.to_vec(data.py())?))
}

#[pymethods]
impl Task {
    /// The request (bytes).
    #[getter]
    fn req(&self, py: Python<'_>) -> Py<PyBytes> {
        self.req.clone_ref(py)
    }

    /// True once answered.
    #[getter]
    fn answered(&self) -> bool {
        self.answered.load(Ordering::Acquire)
    }

    /// Answers the call: `data` (bytes, str, a byte buffer, or None for nil in Lua) and
    /// `rc` (0: success; else Lua gets `false, rc, data`). Only the first answer counts.
    /// Without memory for the copy, the answer goes without data and with `RC_NO_MEMORY` in
    /// place of an rc of 0.
    #[pyo3(signature = (data=None, rc=0))]
    fn respond(&self, data: Option<&Bound<'_, PyAny>>, rc: c_int) -> PyResult<()> {
        let bytes = data.map(response_bytes).transpose()?;
        if bytes.as_ref().is_some_and(|b| b.len() > c_int::MAX as usize) {
            return Err(PyValueError::new_err("a response must be shorter than 2 GiB"));
        }
        let abi = abi()?;
        if self.answered.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err("this task was already answered"));
        }
        // SAFETY: the task is live and this is its only answer (the flag above).
        unsafe { abi.respond(self.ptr as *mut c_void, rc, bytes.as_deref(), resty_ffi_sdk::RC_NO_MEMORY) };
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<resty_ffi.Task 0x{:x}{}>", self.ptr, if self.answered() { " answered" } else { "" })
    }
}

impl Drop for Task {
    /// A task nobody answered would leave its Lua caller waiting for ever: answer it.
    fn drop(&mut self) {
        if self.answered.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Ok(abi) = raw::module_abi() {
            log_text(level::WARN, b"python: a task was dropped without an answer");
            // SAFETY: the task is live and was never answered.
            unsafe {
                abi.respond(
                    self.ptr as *mut c_void,
                    resty_ffi_sdk::RC_DROPPED,
                    Some(b"task dropped without an answer"),
                    resty_ffi_sdk::RC_NO_MEMORY,
                )
            };
        }
    }
}
