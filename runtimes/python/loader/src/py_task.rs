//! `resty_ffi.TaskQueue` and `resty_ffi.Task`: the runtime ABI for Python code, no cffi.
//!
//! ```python
//! q = resty_ffi.TaskQueue(tq)      # tq: the int handed to init(cfg, tq)
//! for task in q:                   # q.poll() until the runtime is unloaded
//!     task.respond(task.req.upper())
//! ```
//!
//! Deadlines and cancellation: `task.deadline` (a `time.monotonic()` value, or None),
//! `task.cancelled()`, and `q.cancel_poll()` (blocks until tasks this runtime holds are
//! cancelled; their `task.id`s).

use std::borrow::Cow;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use resty_ffi_loader_host::{log_text, require_module};
use resty_ffi_sdk::raw::{self, level, ModuleAbi, Sent};

create_exception!(
    resty_ffi,
    StreamCancelled,
    PyException,
    "The caller stopped reading the stream (s:close(), its timeout, its request ended): send no more."
);
create_exception!(
    resty_ffi,
    NotStream,
    PyException,
    "A send on a call that is not a stream (rt:x(req), not rt:stream_x(req)), or already answered."
);

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
        // SAFETY: as above.
        let deadline_ns = unsafe { abi.task_deadline_ns(task as *mut c_void) };
        Ok(Some(Task {
            ptr: task,
            req,
            deadline_ns,
            answered: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            send_gate: Mutex::new(()),
        }))
    }

    /// Blocks (without the GIL) until tasks this runtime holds are cancelled by their
    /// callers, and returns their `Task.id`s (at most `max`); an empty list once the runtime
    /// is unloaded. Cancellations are kept for a runtime only from its first cancel_poll on:
    /// call it from a thread of its own, started in init. serve_async does it for you.
    #[pyo3(signature = (max=64))]
    fn cancel_poll(&self, py: Python<'_>, max: usize) -> PyResult<Vec<usize>> {
        if max == 0 {
            return Err(PyValueError::new_err("cancel_poll(max): max must be >= 1"));
        }
        let abi = abi()?;
        let tq = self.tq;
        let max = max.min(1024);
        let ids = py.detach(move || {
            let mut out = vec![std::ptr::null_mut::<c_void>(); max];
            // SAFETY: tq is the queue of a runtime; out has room for max handles.
            let n = unsafe { abi.cancel_poll(tq as *mut c_void, &mut out) };
            out[..n].iter().map(|t| *t as usize).collect::<Vec<usize>>()
        });
        Ok(ids)
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
    /// CLOCK_MONOTONIC ns when the caller stops waiting; None without a timeout.
    deadline_ns: Option<i64>,
    answered: AtomicBool,
    /// Set once the module said the caller gave up (kept after the answer).
    cancelled: AtomicBool,
    /// Held by a stream send while in the module, and by the answer: every send returns
    /// before the answer (the stream ABI's rule).
    send_gate: Mutex<()>,
}

impl Task {
    fn gate(&self) -> MutexGuard<'_, ()> {
        self.send_gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A chunk sent with the blocking or the trying send, the GIL released meanwhile.
    fn send_chunk(&self, py: Python<'_>, data: &Bound<'_, PyAny>, block: bool) -> PyResult<bool> {
        let bytes = response_bytes(data)?;
        let ptr = self.ptr;
        let sent = py.detach(|| {
            let _gate = self.gate();
            if self.answered.load(Ordering::Acquire) {
                return Sent::NotStream;
            }
            let abi = raw::stream_abi();
            // SAFETY: a polled task, unanswered while the gate is held (respond takes it).
            unsafe {
                if block {
                    abi.send(ptr as *mut c_void, &bytes)
                } else {
                    abi.try_send(ptr as *mut c_void, &bytes)
                }
            }
        });
        match sent {
            Sent::Sent => Ok(true),
            Sent::WindowFull => Ok(false),
            Sent::Cancelled => Err(StreamCancelled::new_err("the caller stopped reading the stream")),
            Sent::NotStream => Err(NotStream::new_err("not a stream call in the runtime's hands")),
        }
    }
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

    /// The task's handle as an int: what `TaskQueue.cancel_poll()` returns for it.
    #[getter]
    fn id(&self) -> usize {
        self.ptr
    }

    /// When the caller stops waiting, in seconds on the clock of `time.monotonic()` (and of
    /// asyncio's `loop.time()`, e.g. `asyncio.timeout_at(task.deadline)`); None if the call
    /// has no timeout.
    #[getter]
    fn deadline(&self) -> Option<f64> {
        self.deadline_ns.map(|ns| ns as f64 / 1e9)
    }

    /// True once the caller gave up on the call (its timeout passed, the client went away,
    /// its request ended, the worker is exiting): the answer will be thrown away, so stop
    /// working for it (and still answer, e.g. `respond(None, RC_CANCELLED)`).
    fn cancelled(&self) -> bool {
        if self.cancelled.load(Ordering::Acquire) {
            return true;
        }
        if self.answered.load(Ordering::Acquire) {
            return false;
        }
        let Ok(abi) = raw::module_abi() else {
            return false;
        };
        // SAFETY: a polled task; the module only compares the handle, stale or not.
        let yes = unsafe { abi.task_cancelled(self.ptr as *mut c_void) };
        // An answer given meanwhile makes the handle stale (which reads as cancelled).
        if yes && !self.answered.load(Ordering::Acquire) {
            self.cancelled.store(true, Ordering::Release);
            return true;
        }
        false
    }

    /// True if the caller reads this call as a stream (`rt:stream_x(req)` in Lua): then
    /// `send` chunks before the answer, which ends the stream.
    fn streaming(&self) -> bool {
        if self.answered.load(Ordering::Acquire) {
            return false;
        }
        // SAFETY: a polled task; the module checks the handle (a stale one says 0).
        unsafe { raw::stream_abi().streaming(self.ptr as *mut c_void) }
    }

    /// Sends one chunk of a stream call's answer (bytes, str or a byte buffer; copied),
    /// waiting without the GIL while the caller's window is full. Raises StreamCancelled
    /// once the caller stopped reading, NotStream for a plain call or an answered task.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        self.send_chunk(py, data, true).map(|_| ())
    }

    /// As send, but False instead of waiting when the window is full (nothing sent).
    fn try_send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.send_chunk(py, data, false)
    }

    /// Answers the call: `data` (bytes, str, a byte buffer, or None for nil in Lua) and
    /// `rc` (0: success; else Lua gets `false, rc, data`). Only the first answer counts.
    /// Without memory for the copy, the answer goes without data and with `RC_NO_MEMORY` in
    /// place of an rc of 0.
    #[pyo3(signature = (data=None, rc=0))]
    fn respond(&self, py: Python<'_>, data: Option<&Bound<'_, PyAny>>, rc: c_int) -> PyResult<()> {
        let bytes = data.map(response_bytes).transpose()?;
        if bytes.as_ref().is_some_and(|b| b.len() > c_int::MAX as usize) {
            return Err(PyValueError::new_err("a response must be shorter than 2 GiB"));
        }
        let abi = abi()?;
        let ptr = self.ptr;
        let body = bytes.as_deref();
        // Under the send gate, without the GIL: a send in progress (on another thread)
        // returns first, and none starts after.
        let first = py.detach(|| {
            let _gate = self.gate();
            if self.answered.swap(true, Ordering::AcqRel) {
                return false;
            }
            // SAFETY: the task is live and this is its only answer (the flag above); the module
            // copies the bytes.
            unsafe { abi.respond_copied(ptr as *mut c_void, rc, body, resty_ffi_sdk::RC_NO_MEMORY) };
            true
        });
        if !first {
            return Err(PyRuntimeError::new_err("this task was already answered"));
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        let state = if self.answered() {
            " answered"
        } else if self.cancelled.load(Ordering::Acquire) {
            " cancelled"
        } else {
            ""
        };
        format!("<resty_ffi.Task 0x{:x}{state}>", self.ptr)
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
