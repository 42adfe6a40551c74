//! lua-nginx-module's semaphore FFI, resolved at run time.
//!
//! lua-nginx-module exports the C functions behind lua-resty-core's `ngx.semaphore`.
//! A coroutine that called a runtime waits on one of these semaphores (from Lua, with
//! `ngx_http_lua_ffi_sema_wait`); the eventfd handler posts it when the task is done.
//! That is how a coroutine is resumed without patching lua-nginx-module.
//!
//! The symbols are looked up with `dlsym(RTLD_DEFAULT, ..)` in the worker, so the order
//! of the `load_module` lines does not matter as long as the lua module is loaded.

use std::ffi::{c_char, c_int, c_void, CStr};

/// Opaque `ngx_http_lua_sema_t`.
#[repr(C)]
pub struct Sema {
    _private: [u8; 0],
}

type SemaNewFn = unsafe extern "C" fn(*mut *mut Sema, c_int, *mut *mut c_char) -> c_int;
type SemaPostFn = unsafe extern "C" fn(*mut Sema, c_int) -> c_int;
type SemaCountFn = unsafe extern "C" fn(*mut Sema) -> c_int;
type SemaGcFn = unsafe extern "C" fn(*mut Sema);

/// The semaphore functions of the loaded lua-nginx-module.
#[derive(Clone, Copy)]
pub struct LuaSema {
    new: SemaNewFn,
    post: SemaPostFn,
    count: SemaCountFn,
    gc: SemaGcFn,
}

fn lookup(name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if sym.is_null() {
        Err(format!(
            "symbol {} not found: is ngx_http_lua_module loaded (load_module) before this module is used?",
            name.to_string_lossy()
        ))
    } else {
        Ok(sym)
    }
}

impl LuaSema {
    /// Looks the four functions up in the process.
    pub fn resolve() -> Result<Self, String> {
        let new = lookup(c"ngx_http_lua_ffi_sema_new")?;
        let post = lookup(c"ngx_http_lua_ffi_sema_post")?;
        let count = lookup(c"ngx_http_lua_ffi_sema_count")?;
        let gc = lookup(c"ngx_http_lua_ffi_sema_gc")?;
        // SAFETY: the symbols are lua-nginx-module's exported functions with exactly these
        // signatures (see lua-resty-core's ngx/semaphore.lua, which declares the same).
        unsafe {
            Ok(Self {
                new: std::mem::transmute::<*mut c_void, SemaNewFn>(new),
                post: std::mem::transmute::<*mut c_void, SemaPostFn>(post),
                count: std::mem::transmute::<*mut c_void, SemaCountFn>(count),
                gc: std::mem::transmute::<*mut c_void, SemaGcFn>(gc),
            })
        }
    }

    /// A new semaphore with no resources. Worker thread only.
    pub fn create(&self) -> Result<*mut Sema, String> {
        let mut sem: *mut Sema = std::ptr::null_mut();
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: both out-pointers are valid for writes; called on the worker thread.
        let rc = unsafe { (self.new)(&mut sem, 0, &mut err) };
        if rc != 0 || sem.is_null() {
            let msg = if err.is_null() {
                "ngx_http_lua_ffi_sema_new failed".to_string()
            } else {
                // SAFETY: on error lua-nginx-module points err at a static C string.
                unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned()
            };
            return Err(msg);
        }
        Ok(sem)
    }

    /// Adds one resource; resumes the waiting coroutine (through a posted event) if any.
    ///
    /// # Safety
    /// `sem` must be a live semaphore made by [`LuaSema::create`]; worker thread only.
    pub unsafe fn post(&self, sem: *mut Sema) {
        (self.post)(sem, 1);
    }

    /// Resources minus waiters.
    ///
    /// # Safety
    /// As for [`LuaSema::post`].
    pub unsafe fn count(&self, sem: *mut Sema) -> c_int {
        (self.count)(sem)
    }

    /// Gives the semaphore back to lua-nginx-module.
    ///
    /// # Safety
    /// As for [`LuaSema::post`]; no coroutine may wait on it and no event of it may be pending.
    pub unsafe fn destroy(&self, sem: *mut Sema) {
        (self.gc)(sem);
    }
}
