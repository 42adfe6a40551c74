//! Keeps the interpreter's code mapped and visible, however nginx loaded this library:
//!
//! - this library becomes RTLD_NODELETE: Python threads run its code until the process
//!   ends, so `unpin = true` (dlclose on unload) must not unmap it;
//! - libpython becomes RTLD_GLOBAL: C extension modules (cffi's backend, lib-dynload) look
//!   up the interpreter's symbols in the global scope, so they load even when
//!   `is_global = true` was forgotten.

use std::ffi::{c_void, CStr};

/// The file that holds `addr`, as the dynamic loader knows it.
fn file_of(addr: *const c_void) -> Result<&'static CStr, String> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr fills `info` for an address inside a loaded object.
    let found = unsafe { libc::dladdr(addr, info.as_mut_ptr()) };
    // SAFETY: zero-initialized, then filled by dladdr.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        return Err("dladdr found no file".to_string());
    }
    // SAFETY: dli_fname points into the loader's own table, alive while the object is.
    Ok(unsafe { CStr::from_ptr(info.dli_fname) })
}

/// dlopen again with `flags | RTLD_NOLOAD`: changes the flags of an object already loaded.
fn reopen(addr: *const c_void, flags: libc::c_int, what: &str) -> Result<(), String> {
    let file = file_of(addr).map_err(|e| format!("cannot find {what}: {e}"))?;
    // SAFETY: RTLD_NOLOAD never loads anything new; the handle only adds a reference.
    let handle = unsafe { libc::dlopen(file.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD | flags) };
    if handle.is_null() {
        return Err(format!("cannot re-open {what} ({})", file.to_string_lossy()));
    }
    Ok(())
}

/// Pins this library and makes libpython's symbols global. Call once, before Python starts.
pub fn pin() -> Result<(), String> {
    // In `cargo test` this code is in the test executable, which cannot be re-opened.
    if cfg!(not(test)) {
        reopen(pin as *const c_void, libc::RTLD_NODELETE, "libresty_ffi_python.so")?;
    }
    reopen(pyo3::ffi::Py_IsInitialized as *const c_void, libc::RTLD_GLOBAL | libc::RTLD_NODELETE, "libpython")
}
