//! One `libffi_init` of the loader: parse the cfg, start the interpreter if needed, then
//! (with the GIL, on the nginx worker thread) run `python/runtime_loader.py`'s `start`:
//! venv, sys.path, import or re-import, `func(cfg, tq)`.

use std::ffi::{c_int, c_void, CString};
use std::sync::OnceLock;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use resty_ffi_loader_host::{log_error, log_info, LoadFailure};

use crate::interpreter;
use crate::py_module;
use crate::spec::{self, Spec};

const LOADER: &str = include_str!("python/runtime_loader.py");

/// The private module holding `runtime_loader.py`, made once.
fn loader_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    static LOADER_MODULE: OnceLock<Py<PyModule>> = OnceLock::new();
    if let Some(m) = LOADER_MODULE.get() {
        return Ok(m.bind(py).clone());
    }
    let module = PyModule::new(py, "_resty_ffi_loader")?;
    py_module::exec_in(&module, LOADER, "<resty_ffi>/runtime_loader.py")?;
    Ok(LOADER_MODULE.get_or_init(|| module.unbind()).bind(py).clone())
}

/// What `runtime_loader.start` answered: rc, reason, traceback.
type Outcome = (c_int, Option<String>, Option<String>);

fn run_loader(py: Python<'_>, spec: &Spec, tq: usize) -> PyResult<Outcome> {
    // The user's cfg as a C string that lives through the call (0 when there is none).
    let cfg = match &spec.cfg {
        Some(bytes) => Some(
            CString::new(bytes.clone())
                .map_err(|_| pyo3::exceptions::PyValueError::new_err("cfg contains a NUL byte"))?,
        ),
        None => None,
    };
    let cfg_ptr = cfg.as_ref().map_or(0usize, |c| c.as_ptr() as usize);
    let cfg_bytes = spec.cfg.as_deref().map(|b| PyBytes::new(py, b));
    let outcome = loader_module(py)?.getattr("start")?.call1((
        spec.venv.as_deref(),
        spec.dir.as_deref(),
        spec.module.as_str(),
        spec.reload,
        spec.func.as_str(),
        cfg_ptr,
        cfg_bytes,
        tq,
    ))?;
    let outcome: Outcome = outcome.extract()?;
    drop(cfg);
    Ok(outcome)
}

/// Starts the runtime that `cfg` names on the task queue `tq`.
pub fn start(cfg: Option<&[u8]>, tq: *mut c_void) -> Result<(), LoadFailure> {
    let Some(cfg) = cfg else {
        return Err(LoadFailure::new(1, "python: no cfg: expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]"));
    };
    let spec = spec::parse(cfg).map_err(|e| LoadFailure::new(1, format!("python: {e}")))?;
    interpreter::ensure_started().map_err(|e| LoadFailure::new(1, format!("python: {e}")))?;

    let outcome = Python::attach(|py| run_loader(py, &spec, tq as usize));
    let (rc, message, traceback) = outcome.map_err(|e| LoadFailure::new(1, format!("python: loader failed: {e}")))?;
    if let Some(tb) = traceback {
        log_error(&format!("python: {}", tb.trim_end()));
    }
    if rc != 0 {
        let message = message.unwrap_or_else(|| format!("{}.{}() failed", spec.module, spec.func));
        return Err(LoadFailure::new(rc, format!("python: {message}")));
    }
    log_info(&format!(
        "python: started {}.{}(){}",
        spec.module,
        spec.func,
        spec.venv.as_deref().map(|v| format!(" with venv {v}")).unwrap_or_default()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Runs the loader against a real interpreter, outside nginx (log lines go to stderr).
    use super::*;

    fn module_dir(name: &str, source: &str) -> String {
        let dir = std::env::temp_dir().join(format!("resty_ffi_python_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join(format!("{name}.py")), source).expect("module file");
        dir.to_string_lossy().into_owned()
    }

    fn start_str(cfg: &str) -> Result<(), String> {
        start(Some(cfg.as_bytes()), std::ptr::null_mut()).map_err(|f| format!("rc={} {}", f.rc(), f.message()))
    }

    #[test]
    fn init_gets_cfg_and_tq_as_ints() {
        let dir = module_dir(
            "rt_ok",
            "import resty_ffi\n\
             seen = []\n\
             def init(cfg, tq):\n\
             \x20   seen.append((type(cfg).__name__, resty_ffi.cfg_text(cfg), tq))\n\
             \x20   return 0 if resty_ffi.cfg_text(cfg) in ('x,y', None) else 9\n",
        );
        assert_eq!(start_str(&format!("{dir}/rt_ok,init,x,y")), Ok(()));
        assert_eq!(start_str(&format!("{dir}/rt_ok,init")), Ok(()));
        assert_eq!(start_str(&format!("{dir}/rt_ok,init,z")), Err("rc=9 python: rt_ok.init() returned 9".into()));
        let seen: String = Python::attach(|py| {
            py.import("rt_ok").and_then(|m| m.getattr("seen")).and_then(|s| s.repr()).map(|r| r.to_string())
        })
        .expect("rt_ok.seen");
        assert_eq!(seen, "[('int', 'x,y', 0), ('int', None, 0), ('int', 'z', 0)]");
    }

    #[test]
    fn answer_codes_are_the_abi_reserved_rcs() {
        // abi/resty_ffi.h: RESTY_FFI_RC_ERROR -1, _PANICKED -2, _DROPPED -3, _NO_MEMORY -4.
        let dir = module_dir(
            "rt_codes",
            "import resty_ffi\n\
             def init(cfg, tq):\n\
             \x20   got = (resty_ffi.RC_ERROR, resty_ffi.RC_PANICKED, resty_ffi.RC_DROPPED,\n\
             \x20          resty_ffi.RC_NO_MEMORY, resty_ffi.Error('x').rc, resty_ffi.Error('y', 7).rc)\n\
             \x20   ok = got == (-1, -2, -3, -4, -1, 7) and 'RC_PANICKED' in resty_ffi.__all__\n\
             \x20   return 0 if ok else 9\n",
        );
        assert_eq!(start_str(&format!("{dir}/rt_codes,init")), Ok(()));
    }

    #[test]
    fn shared_dicts_outside_nginx_raise_shared_dict_error() {
        let dir = module_dir(
            "rt_shdict",
            "import resty_ffi\n\
             def init(cfg, tq):\n\
             \x20   try:\n\
             \x20       resty_ffi.shared_dict('d')\n\
             \x20   except resty_ffi.SharedDictError as e:\n\
             \x20       return 0 if 'ngx_http_resty_ffi_shdict' in str(e) else 8\n\
             \x20   return 9\n",
        );
        assert_eq!(start_str(&format!("{dir}/rt_shdict,init")), Ok(()));
    }

    #[test]
    fn raising_init_is_one_line() {
        let dir = module_dir("rt_raise", "def init(cfg, tq):\n    raise ValueError('nope')\n");
        assert_eq!(
            start_str(&format!("{dir}/rt_raise,init")),
            Err("rc=1 python: rt_raise.init() raised: ValueError: nope".into())
        );
    }

    #[test]
    fn bad_cfg_and_missing_module() {
        assert_eq!(
            start(None, std::ptr::null_mut()).err().map(|f| f.message().to_string()),
            Some("python: no cfg: expected [venv=<dir>;]<[dir/]module[?]>,<func>[,<cfg>]".into())
        );
        let e = start_str("rt_surely_missing,init").err().unwrap_or_default();
        assert!(e.contains("cannot import rt_surely_missing: ModuleNotFoundError"), "{e}");
    }
}
