//! libffi_java.so: the resty-ffi runtime library that serves `ngx.load_ffi` calls with Java.
//!
//! ```lua
//! local rt = ngx.load_ffi("ffi_java", "demo.echo.App,init,some cfg")
//! ```
//! cfg is `<class>[?],<method>,<cfg>` (the original lua-resty-ffi's contract): the class (dots
//! as package separators) has `static int method(String cfg, long tq)`; 0 = serving. A trailing
//! `?` loads the class's package afresh (code reload). The JVM is created once per worker from
//! `CLASSPATH` and `JAVA_OPTS`; see runtimes/java/README.md.

mod jvm_locate;
mod jvm_options;
mod jvm_start;
mod jvm_thread;
mod load_failure;
mod natives;
mod shdict_natives;
mod startup_abort;

use std::ffi::{c_char, c_int, c_void};

use resty_ffi_loader_host::{require_module, required_cfg, run_libffi_init};
use resty_ffi_sdk::raw;

use load_failure::{java_failure, LoadOutcome};

/// What the cfg looks like, for the error of a load without one.
const CFG_FORM: &str = "\"<class>[?],<method>,<cfg>\"";

/// The module's task functions, or why this process has none.
fn module_abi() -> Result<&'static raw::ModuleAbi, String> {
    require_module("libffi_java.so")
}

fn start(cfg: Option<&[u8]>, tq: *mut c_void) -> LoadOutcome {
    module_abi().map_err(|e| java_failure(1, e))?;
    let cfg = required_cfg(cfg, CFG_FORM).map_err(|e| java_failure(1, e))?;
    jvm_thread::load(cfg.to_string(), tq as usize as i64)
}

/// # Safety
/// Called by the module with a C string (or NULL) and the runtime's task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    // SAFETY: per this function's contract.
    unsafe { run_libffi_init(cfg, "ffi_java: panic in libffi_init", |cfg| start(cfg, tq)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_is_a_clear_error() {
        // A unit test process has no nginx module in it.
        let e = module_abi().err().unwrap_or_default();
        assert!(e.contains("ngx_http_lua_ffi_task_poll"), "{e}");
        assert!(e.contains("libffi_java.so"), "{e}");
        assert!(!raw::logs_to_nginx());
    }
}
