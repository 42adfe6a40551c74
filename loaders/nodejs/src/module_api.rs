//! The resty-ffi module's runtime ABI, looked up at run time.
//!
//! nginx loads the module with RTLD_GLOBAL, so `dlsym(RTLD_DEFAULT, ...)` finds its exports
//! from any library loaded later. Looking them up (rather than linking them as undefined
//! symbols) lets the unit tests link without nginx, and lets an older module without the log
//! or batch-poll functions still run Node runtimes.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

pub type TaskPoll = unsafe extern "C" fn(tq: *mut c_void) -> *mut c_void;
pub type TaskPollBatch = unsafe extern "C" fn(tq: *mut c_void, tasks: *mut *mut c_void, max: c_int) -> c_int;
pub type GetReq = unsafe extern "C" fn(task: *mut c_void, len: *mut c_int) -> *mut c_char;
pub type Respond = unsafe extern "C" fn(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
pub type Log = unsafe extern "C" fn(level: c_int, msg: *const c_char, len: c_int);

/// The module's functions a Node runtime needs.
pub struct ModuleApi {
    pub task_poll: TaskPoll,
    /// `ngx_http_resty_ffi_task_poll_batch`; absent in modules older than the batch ABI.
    pub task_poll_batch: Option<TaskPollBatch>,
    pub get_req: GetReq,
    pub respond: Respond,
    /// `ngx_http_resty_ffi_log`; absent in modules older than the logging API.
    pub log: Option<Log>,
}

static API: OnceLock<Result<ModuleApi, String>> = OnceLock::new();

fn lookup(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: RTLD_DEFAULT searches every global object; the name is NUL-terminated.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!sym.is_null()).then_some(sym)
}

fn required(name: &CStr) -> Result<*mut c_void, String> {
    lookup(name).ok_or_else(|| {
        format!(
            "symbol {} not found: libffi_nodejs.so must be loaded by ngx.load_ffi in an nginx \
             with the resty-ffi module",
            name.to_string_lossy()
        )
    })
}

fn resolve() -> Result<ModuleApi, String> {
    let poll = required(c"ngx_http_lua_ffi_task_poll")?;
    let get_req = required(c"ngx_http_lua_ffi_get_req")?;
    let respond = required(c"ngx_http_lua_ffi_respond")?;
    let poll_batch = lookup(c"ngx_http_resty_ffi_task_poll_batch");
    let log = lookup(c"ngx_http_resty_ffi_log");
    // SAFETY: these are the module's exports, with the signatures of the runtime ABI.
    unsafe {
        Ok(ModuleApi {
            task_poll: std::mem::transmute::<*mut c_void, TaskPoll>(poll),
            task_poll_batch: poll_batch.map(|p| std::mem::transmute::<*mut c_void, TaskPollBatch>(p)),
            get_req: std::mem::transmute::<*mut c_void, GetReq>(get_req),
            respond: std::mem::transmute::<*mut c_void, Respond>(respond),
            log: log.map(|p| std::mem::transmute::<*mut c_void, Log>(p)),
        })
    }
}

/// The module's functions, looked up once per process.
pub fn get() -> Result<&'static ModuleApi, String> {
    API.get_or_init(resolve).as_ref().map_err(Clone::clone)
}

/// The module's log function if the module is there and has one.
pub fn log_fn() -> Option<Log> {
    get().ok().and_then(|api| api.log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_is_a_clear_error() {
        // A unit test process has no nginx module in it.
        let e = get().err().unwrap_or_default();
        assert!(e.contains("ngx_http_lua_ffi_task_poll"), "{e}");
        assert!(log_fn().is_none());
    }
}
