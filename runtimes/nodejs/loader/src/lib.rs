//! libffi_nodejs.so: the resty-ffi runtime library that serves `ngx.load_ffi` calls with
//! Node.js, embedded from Debian's libnode (Node 18).
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_nodejs", "/srv/app/echo.js,init,some cfg")
//! ```
//! cfg is `<module>[?],<export>[,<cfg>]`: the module (CommonJS or ES) is loaded in the
//! worker's one Node instance, and `export(cfg, tq)` returns the handler, an (async)
//! function of a Buffer that returns a Buffer or a string. Node runs on a thread of its own,
//! started by the first load; see runtimes/nodejs/README.md.

mod binding;
mod embed;
mod js_value;
mod load_spec;
mod loads;
mod napi;
mod node_thread;
mod pin;
mod shdict_binding;
mod task_pump;
mod tasks;

use std::ffi::{c_char, c_int, c_void};

use resty_ffi_loader_host::{required_cfg, run_libffi_init, LoadFailure};

fn start(cfg: Option<&[u8]>, tq: *mut c_void) -> Result<(), String> {
    tasks::module_abi()?;
    let spec = load_spec::parse(required_cfg(cfg, load_spec::FORM)?)?;
    pin::pin_once();
    node_thread::ensure_started()?;
    loads::load(spec, tq as usize as u64)
}

/// # Safety
/// Called by the module with a C string (or NULL) and the runtime's task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    // SAFETY: per this function's contract. A failure is logged on this thread, during
    // libffi_init: load_ffi's error carries it.
    unsafe {
        run_libffi_init(cfg, "ffi_nodejs: panic in libffi_init", |cfg| {
            start(cfg, tq).map_err(|e| LoadFailure::new(1, format!("ffi_nodejs: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_outside_nginx_fails_cleanly() {
        let mut cfg = *b"/nonexistent.js,init\0";
        // SAFETY: a NUL-terminated cfg; the queue is never touched when the module is absent.
        let rc = unsafe { libffi_init(cfg.as_mut_ptr().cast(), std::ptr::null_mut()) };
        assert_eq!(rc, 1);
        let why = tasks::module_abi().err().unwrap_or_default();
        assert!(why.contains("ngx_http_lua_ffi_task_poll") && why.contains("libffi_nodejs.so"), "{why}");
    }

    /// Node starts once per process: every check that needs it is in this one test. Without
    /// nginx the module's poll is missing, so a served queue ends at once.
    #[test]
    fn node_starts_and_loads_modules() {
        node_thread::ensure_started().expect("Node.js starts");
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
        let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-runtimes");
        let load = |cfg: String| loads::load(load_spec::parse(&cfg).expect("valid cfg"), 1);

        load(format!("{examples}/echo/echo.js,init,> ")).expect("CommonJS module loads");
        load(format!("{examples}/echo/echo.mjs,default")).expect("ES module loads");
        let e = load(format!("{tests}/missing.js,init")).unwrap_err();
        assert!(e.contains("Cannot find module"), "{e}");
        let e = load(format!("{tests}/bad-loads.js,throws,db")).unwrap_err();
        assert!(e.ends_with("Error: no database at \"db\""), "{e}");
        let e = load(format!("{tests}/syntax-error.js,init")).unwrap_err();
        assert!(e.contains("syntax-error.js:3: SyntaxError"), "{e}");
        node_thread::ensure_started().expect("Node.js still runs");
    }
}
