//! The runtime ABI of ngx_http_resty_ffi_module, looked up at run time.
//!
//! nginx loads the module RTLD_GLOBAL, so its exports are found with
//! `dlsym(RTLD_DEFAULT, ...)`. Looking them up (instead of linking against them) keeps this
//! library loadable, and its unit tests runnable, outside nginx.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

type TaskPoll = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type GetReq = unsafe extern "C" fn(*mut c_void, *mut c_int) -> *mut c_char;
type Respond = unsafe extern "C" fn(*mut c_void, c_int, *mut c_char, c_int);
type Log = unsafe extern "C" fn(c_int, *const c_char, c_int);

/// The task functions every runtime needs.
pub struct TaskAbi {
    task_poll: TaskPoll,
    get_req: GetReq,
    respond: Respond,
}

fn lookup(name: &CStr) -> *mut c_void {
    // SAFETY: RTLD_DEFAULT searches the global scope; the name is NUL-terminated.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

fn resolve_tasks() -> Result<TaskAbi, String> {
    let missing = |name: &CStr| {
        format!(
            "{} not found: libresty_ffi_python.so must run inside nginx with \
             ngx_http_resty_ffi_module loaded",
            name.to_string_lossy()
        )
    };
    let poll = lookup(c"ngx_http_lua_ffi_task_poll");
    let get_req = lookup(c"ngx_http_lua_ffi_get_req");
    let respond = lookup(c"ngx_http_lua_ffi_respond");
    if poll.is_null() {
        return Err(missing(c"ngx_http_lua_ffi_task_poll"));
    }
    if get_req.is_null() {
        return Err(missing(c"ngx_http_lua_ffi_get_req"));
    }
    if respond.is_null() {
        return Err(missing(c"ngx_http_lua_ffi_respond"));
    }
    // SAFETY: the module exports these names with exactly these signatures (runtime ABI).
    unsafe {
        Ok(TaskAbi {
            task_poll: std::mem::transmute::<*mut c_void, TaskPoll>(poll),
            get_req: std::mem::transmute::<*mut c_void, GetReq>(get_req),
            respond: std::mem::transmute::<*mut c_void, Respond>(respond),
        })
    }
}

/// The task functions, or why they are not there.
pub fn tasks() -> Result<&'static TaskAbi, String> {
    static TASKS: OnceLock<Result<TaskAbi, String>> = OnceLock::new();
    TASKS.get_or_init(resolve_tasks).as_ref().map_err(Clone::clone)
}

/// `ngx_http_resty_ffi_log`, if the module in this process has it.
pub fn log_fn() -> Option<Log> {
    static LOG: OnceLock<Option<Log>> = OnceLock::new();
    *LOG.get_or_init(|| {
        let p = lookup(c"ngx_http_resty_ffi_log");
        // SAFETY: the module exports this name with this signature.
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, Log>(p) })
    })
}

impl TaskAbi {
    /// Blocks until a task comes (or NULL after the unload). Call without the GIL.
    ///
    /// # Safety
    /// `tq` is a queue handed to `libffi_init` that has not returned NULL yet.
    pub unsafe fn poll(&self, tq: *mut c_void) -> *mut c_void {
        // SAFETY: per this function's contract.
        unsafe { (self.task_poll)(tq) }
    }

    /// The request bytes of a task that has not been answered.
    ///
    /// # Safety
    /// `task` came from `poll` and has not been answered; the slice dies with the answer.
    pub unsafe fn request<'t>(&self, task: *mut c_void) -> &'t [u8] {
        let mut len: c_int = 0;
        // SAFETY: per this function's contract; the module returns `len` readable bytes.
        unsafe {
            let p = (self.get_req)(task, &mut len);
            if p.is_null() || len <= 0 {
                return &[];
            }
            std::slice::from_raw_parts(p.cast::<u8>(), len as usize)
        }
    }

    /// Answers a task with a malloc()ed copy of `data` (None: a NULL response).
    ///
    /// # Safety
    /// `task` came from `poll` and is answered here for the only time.
    pub unsafe fn respond(&self, task: *mut c_void, rc: c_int, data: Option<&[u8]>) {
        let Some(data) = data else {
            // SAFETY: a NULL response is allowed by the ABI.
            unsafe { (self.respond)(task, rc, std::ptr::null_mut(), 0) };
            return;
        };
        let len = c_int::try_from(data.len()).unwrap_or(c_int::MAX);
        let n = len as usize;
        // SAFETY: a fresh buffer of n + 1 bytes, filled and handed to the module, which
        // frees it. An empty answer is sent as the C string "" (len 0), not as NULL.
        unsafe {
            let p = libc::malloc(n + 1).cast::<u8>();
            if p.is_null() {
                (self.respond)(task, if rc == 0 { 1 } else { rc }, std::ptr::null_mut(), 0);
                return;
            }
            std::ptr::copy_nonoverlapping(data.as_ptr(), p, n);
            *p.add(n) = 0;
            (self.respond)(task, rc, p.cast(), len);
        }
    }
}
