//! The C++ part (cpp/node_embed.cc): starting Node through its embedder API.

use std::ffi::{c_char, c_int, CString};

use crate::napi::{napi_env, napi_value};

/// Where the C++ part reports errors: an nginx level and a message.
pub type ReportFn = unsafe extern "C" fn(level: c_int, msg: *const c_char, len: usize);
/// The N-API init of the built-in binding.
pub type BindingInit = unsafe extern "C" fn(env: napi_env, exports: napi_value) -> napi_value;

extern "C" {
    fn resty_node_run(
        bootstrap: *const c_char,
        name: *const c_char,
        binding_init: BindingInit,
        report: ReportFn,
    ) -> c_int;
}

/// Runs Node on this thread until its event loop ends: 0, or non-zero when Node could not
/// start (the reasons went to `report`). `binding_init` makes `process._linkedBinding(name)`.
pub fn run(
    bootstrap: &str,
    name: &str,
    binding_init: BindingInit,
    report: ReportFn,
) -> Result<c_int, String> {
    let bootstrap = CString::new(bootstrap).map_err(|_| "bootstrap script has a NUL byte".to_string())?;
    let name = CString::new(name).map_err(|_| "binding name has a NUL byte".to_string())?;
    // SAFETY: both strings are NUL-terminated and outlive the call; the callbacks are
    // extern "C" functions that catch their own panics.
    Ok(unsafe { resty_node_run(bootstrap.as_ptr(), name.as_ptr(), binding_init, report) })
}
