//! The runtime ABI, as the module exports it. Everything unsafe in the SDK is here.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

extern "C" {
    fn ngx_http_lua_ffi_task_poll(tq: *mut c_void) -> *mut c_void;
    fn ngx_http_lua_ffi_get_req(task: *mut c_void, len: *mut c_int) -> *mut c_char;
    fn ngx_http_lua_ffi_respond(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
}

/// Blocks until a task comes; None once the runtime is unloaded.
///
/// # Safety
/// `tq` must be the queue handed to `libffi_init`, not used after it returned NULL.
pub(crate) unsafe fn poll(tq: *mut c_void) -> Option<*mut c_void> {
    let t = ngx_http_lua_ffi_task_poll(tq);
    (!t.is_null()).then_some(t)
}

/// The request bytes of a task.
///
/// # Safety
/// `task` must be a polled, unanswered task; the slice lives until it is answered.
pub(crate) unsafe fn request<'a>(task: *mut c_void) -> &'a [u8] {
    let mut len: c_int = 0;
    let p = ngx_http_lua_ffi_get_req(task, &mut len);
    if p.is_null() || len <= 0 {
        return &[];
    }
    std::slice::from_raw_parts(p.cast::<u8>(), len as usize)
}

/// Answers a task with a malloc()ed copy of `data` (the module frees it).
///
/// # Safety
/// `task` must be a polled, unanswered task; it is answered exactly once here.
pub(crate) unsafe fn respond(task: *mut c_void, rc: c_int, data: &[u8]) {
    let len = c_int::try_from(data.len()).unwrap_or(c_int::MAX) as usize;
    // One byte more than needed, so an empty answer is an empty string, not NULL.
    let p = libc::malloc(len + 1).cast::<u8>();
    if p.is_null() {
        ngx_http_lua_ffi_respond(
            task,
            if rc == 0 { crate::RC_NO_MEMORY } else { rc },
            std::ptr::null_mut(),
            0,
        );
        return;
    }
    std::ptr::copy_nonoverlapping(data.as_ptr(), p, len);
    *p.add(len) = 0;
    // rsp_len 0 with a non-NULL rsp means "C string": our NUL at p[0] makes it "".
    ngx_http_lua_ffi_respond(task, rc, p.cast(), len as c_int);
}

type PollBatchFn = unsafe extern "C" fn(*mut c_void, *mut *mut c_void, c_int) -> c_int;

/// The module's `ngx_http_resty_ffi_task_poll_batch`, if it has one (older modules and the
/// original lua-resty-ffi do not).
fn poll_batch_fn() -> Option<PollBatchFn> {
    static F: OnceLock<Option<PollBatchFn>> = OnceLock::new();
    *F.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"ngx_http_resty_ffi_task_poll_batch".as_ptr()) };
        // SAFETY: the module exports the function with exactly this signature.
        (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, PollBatchFn>(sym) })
    })
}

/// Blocks until at least one task comes, then takes up to `max`; empty once unloaded.
///
/// # Safety
/// As for [`poll`].
pub(crate) unsafe fn poll_batch(tq: *mut c_void, max: usize) -> Vec<*mut c_void> {
    let Some(f) = poll_batch_fn() else {
        return poll(tq).into_iter().collect();
    };
    let mut out = vec![std::ptr::null_mut(); max.max(1)];
    let n = f(
        tq,
        out.as_mut_ptr(),
        c_int::try_from(out.len()).unwrap_or(c_int::MAX),
    );
    out.truncate(usize::try_from(n).unwrap_or(0));
    out
}

type LogFn = unsafe extern "C" fn(c_int, *const c_char, c_int);

/// The module's `ngx_http_resty_ffi_log`, if this process has it.
pub(crate) fn log_fn() -> Option<LogFn> {
    static LOG: OnceLock<Option<LogFn>> = OnceLock::new();
    *LOG.get_or_init(|| {
        let name: &CStr = c"ngx_http_resty_ffi_log";
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        // SAFETY: the module exports the function with exactly this signature.
        (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, LogFn>(sym) })
    })
}

/// Writes one line to nginx's error.log (or stderr where the module is absent).
pub(crate) fn log_line(level: c_int, msg: &str) {
    match log_fn() {
        // SAFETY: msg is valid for its length; the function never blocks.
        Some(f) => unsafe {
            f(
                level,
                msg.as_ptr().cast(),
                c_int::try_from(msg.len()).unwrap_or(c_int::MAX),
            )
        },
        None => eprintln!("{msg}"),
    }
}
