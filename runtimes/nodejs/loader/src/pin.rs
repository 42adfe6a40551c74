//! Keeps the loader and libnode loaded for good, and makes libnode's symbols global.
//!
//! - Node's threads run code of libffi_nodejs.so and libnode until the worker exits, so a
//!   load with `unpin = true` (dlclose on unload) must not unmap them: both are reopened
//!   with RTLD_NODELETE.
//! - Native addons (`.node` files, N-API or V8 API) are linked against the symbols of the
//!   node binary. nginx opens runtime libraries RTLD_LOCAL by default, which would keep
//!   libnode's symbols out of their reach: libnode is promoted to RTLD_GLOBAL.

use std::ffi::{c_void, CStr};
use std::sync::Once;

use resty_ffi_sdk::raw::{self, level};

use crate::napi;

/// The file of the loaded object that holds `addr`.
fn object_of(addr: *const c_void) -> Option<&'static CStr> {
    // SAFETY: Dl_info is plain data written by dladdr.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address.
    if unsafe { libc::dladdr(addr, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname points into the loader's list of objects, which lives as long as the
    // object does; both objects here are pinned below and never unloaded.
    Some(unsafe { CStr::from_ptr(info.dli_fname) })
}

fn reopen(file: &CStr, global: bool) -> Result<(), String> {
    let mut mode = libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE;
    if global {
        mode |= libc::RTLD_GLOBAL;
    }
    // SAFETY: RTLD_NOLOAD only changes the flags of an object already loaded; the handle is
    // kept (never closed): the object stays for the life of the process.
    let handle = unsafe { libc::dlopen(file.as_ptr(), mode) };
    if handle.is_null() {
        return Err(format!("cannot pin {}", file.to_string_lossy()));
    }
    Ok(())
}

fn pin() -> Result<(), String> {
    let loader = object_of(crate::libffi_init as *const c_void).ok_or("dladdr found no loader")?;
    reopen(loader, false)?;
    let libnode = object_of(napi::napi_create_function as *const c_void).ok_or("dladdr found no libnode")?;
    reopen(libnode, true)
}

static PINNED: Once = Once::new();

/// Once per process; a failure is logged and does not stop the load.
pub fn pin_once() {
    PINNED.call_once(|| {
        if let Err(e) = pin() {
            raw::log_line(level::ERR, &format!("ffi_nodejs: {e}"));
        }
    });
}
