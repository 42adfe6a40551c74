//! `resty_ffi.shared_dict(name)`: nginx's shared dictionaries (`lua_shared_dict`) from
//! Python, on the Rust SDK's `SharedDict`. Values are what Lua's `ngx.shared.DICT` stores:
//! bytes (str is stored as UTF-8), float (int too) and bool; get answers bytes, float, bool
//! or None. Times are seconds, as in Lua (0: never).

use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString};

use resty_ffi_sdk::shdict::{Error, Op, SharedDict as Dict, Value};

create_exception!(
    resty_ffi,
    SharedDictError,
    PyException,
    "A shared dictionary failed: no such dict, no memory, not a number, a bad key, ..."
);

fn py_err(e: Error) -> PyErr {
    match e {
        Error::NotFound => PyKeyError::new_err("not found"),
        e => SharedDictError::new_err(e.to_string()),
    }
}

/// A key: str (UTF-8) or bytes.
fn key_bytes(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = key.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = key.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err("a shared dictionary key is str or bytes"))
}

fn value_of(v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Value::String(b.as_bytes().to_vec()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.as_bytes().to_vec()));
    }
    if v.cast::<PyFloat>().is_ok() || v.cast::<PyInt>().is_ok() {
        return Ok(Value::Number(v.extract::<f64>()?));
    }
    Err(PyTypeError::new_err(
        "a shared dictionary value is bytes, str, int, float or bool",
    ))
}

fn secs(ttl: f64) -> PyResult<Option<Duration>> {
    if ttl == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(ttl)
        .map(Some)
        .map_err(|_| PyValueError::new_err("bad ttl: seconds >= 0"))
}

fn to_py(py: Python<'_>, v: Option<Value>) -> PyResult<Py<PyAny>> {
    Ok(match v {
        None => py.None(),
        Some(Value::Bool(b)) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Some(Value::Number(n)) => PyFloat::new(py, n).into_any().unbind(),
        Some(Value::String(s)) => PyBytes::new(py, &s).into_any().unbind(),
    })
}

/// One `lua_shared_dict` zone; from `resty_ffi.shared_dict(name)`. Any thread.
#[pyclass(module = "resty_ffi", name = "SharedDict", frozen)]
pub struct SharedDict {
    dict: Dict,
}

impl SharedDict {
    fn store(
        &self,
        py: Python<'_>,
        op: Op,
        key: &Bound<'_, PyAny>,
        value: Option<Value>,
        ttl: f64,
        flags: u32,
    ) -> PyResult<bool> {
        let key = key_bytes(key)?;
        let ttl = secs(ttl)?;
        let dict = self.dict;
        match py.detach(move || dict.store(op, key, value.as_ref(), ttl, flags)) {
            Ok(_) => Ok(true),
            Err(Error::Exists | Error::NotFound) if matches!(op, Op::Add | Op::SafeAdd | Op::Replace) => {
                Ok(false)
            }
            Err(e) => Err(py_err(e)),
        }
    }
}

#[pymethods]
impl SharedDict {
    /// The value of key (bytes, float or bool), None when absent or expired.
    fn get(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let key = key_bytes(key)?;
        let dict = self.dict;
        let v = py.detach(move || dict.get(key)).map_err(py_err)?;
        to_py(py, v)
    }

    /// (value, flags); (None, 0) when absent or expired.
    fn get_with_flags(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<(Py<PyAny>, u32)> {
        let key = key_bytes(key)?;
        let dict = self.dict;
        let v = py.detach(move || dict.get_with_flags(key)).map_err(py_err)?;
        let flags = v.as_ref().map_or(0, |(_, f)| *f);
        Ok((to_py(py, v.map(|(v, _)| v))?, flags))
    }

    /// Stores value (evicting the oldest items if the zone is full); ttl in seconds, 0 never.
    #[pyo3(signature = (key, value, ttl=0.0, flags=0))]
    fn set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: f64,
        flags: u32,
    ) -> PyResult<()> {
        self.store(py, Op::Set, key, Some(value_of(value)?), ttl, flags)
            .map(drop)
    }

    /// set without evicting valid items: SharedDictError("no memory") instead.
    #[pyo3(signature = (key, value, ttl=0.0, flags=0))]
    fn safe_set(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: f64,
        flags: u32,
    ) -> PyResult<()> {
        self.store(py, Op::SafeSet, key, Some(value_of(value)?), ttl, flags)
            .map(drop)
    }

    /// Stores only if key is not there: True stored, False it exists.
    #[pyo3(signature = (key, value, ttl=0.0, flags=0))]
    fn add(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: f64,
        flags: u32,
    ) -> PyResult<bool> {
        self.store(py, Op::Add, key, Some(value_of(value)?), ttl, flags)
    }

    /// Stores only if key is there: True stored, False not found.
    #[pyo3(signature = (key, value, ttl=0.0, flags=0))]
    fn replace(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        ttl: f64,
        flags: u32,
    ) -> PyResult<bool> {
        self.store(py, Op::Replace, key, Some(value_of(value)?), ttl, flags)
    }

    /// Removes key (absent already is fine).
    fn delete(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.store(py, Op::Set, key, None, 0.0, 0).map(drop)
    }

    /// Adds delta to a number, returns the new value. A missing key raises KeyError, or with
    /// init starts at init (expiring after init_ttl seconds, 0 never).
    #[pyo3(signature = (key, delta, init=None, init_ttl=0.0))]
    fn incr(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        delta: f64,
        init: Option<f64>,
        init_ttl: f64,
    ) -> PyResult<f64> {
        let key = key_bytes(key)?;
        let init = match init {
            Some(start) => Some((start, secs(init_ttl)?)),
            None => None,
        };
        let dict = self.dict;
        py.detach(move || dict.incr(key, delta, init)).map_err(py_err)
    }

    /// Seconds key has left, 0 if it never expires; KeyError if it is not there.
    fn ttl(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<f64> {
        let key = key_bytes(key)?;
        let dict = self.dict;
        let ttl = py.detach(move || dict.ttl(key)).map_err(py_err)?;
        Ok(ttl.map_or(0.0, |d| d.as_secs_f64()))
    }

    /// Sets when key expires (seconds, 0 never): True done, False not found.
    fn expire(&self, py: Python<'_>, key: &Bound<'_, PyAny>, ttl: f64) -> PyResult<bool> {
        let key = key_bytes(key)?;
        let ttl = secs(ttl)?;
        let dict = self.dict;
        match py.detach(move || dict.expire(key, ttl)) {
            Ok(()) => Ok(true),
            Err(Error::NotFound) => Ok(false),
            Err(e) => Err(py_err(e)),
        }
    }
}

/// The zone of `lua_shared_dict name ...;` (SharedDictError if there is none).
#[pyfunction]
pub fn shared_dict(name: &str) -> PyResult<SharedDict> {
    Dict::open(name).map(|dict| SharedDict { dict }).map_err(py_err)
}
