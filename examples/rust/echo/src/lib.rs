//! The smallest runtime: one thread that polls tasks and echoes each request back.
//!
//! Written against the raw runtime ABI on purpose, to show it; cfg (optional) is a
//! prefix added to each answer.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::thread;

extern "C" {
    fn ngx_http_lua_ffi_task_poll(tq: *mut c_void) -> *mut c_void;
    fn ngx_http_lua_ffi_get_req(task: *mut c_void, len: *mut c_int) -> *mut c_char;
    fn ngx_http_lua_ffi_respond(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
}

struct Queue(*mut c_void);
// SAFETY: the task queue is thread-safe by the runtime ABI.
unsafe impl Send for Queue {}

fn serve(tq: Queue, prefix: Vec<u8>) {
    loop {
        // SAFETY: tq is the queue given to libffi_init; after NULL we stop touching it.
        let task = unsafe { ngx_http_lua_ffi_task_poll(tq.0) };
        if task.is_null() {
            break;
        }
        let mut len: c_int = 0;
        // SAFETY: task is live until we respond; the request is `len` bytes.
        let req = unsafe {
            let p = ngx_http_lua_ffi_get_req(task, &mut len);
            std::slice::from_raw_parts(p.cast::<u8>(), len as usize)
        };
        let n = prefix.len() + req.len();
        // SAFETY: malloc(n) (at least 1 byte) is handed to the module, which frees it.
        unsafe {
            let rsp = libc::malloc(n.max(1)).cast::<u8>();
            if rsp.is_null() {
                ngx_http_lua_ffi_respond(task, 1, std::ptr::null_mut(), 0);
                continue;
            }
            std::ptr::copy_nonoverlapping(prefix.as_ptr(), rsp, prefix.len());
            std::ptr::copy_nonoverlapping(req.as_ptr(), rsp.add(prefix.len()), req.len());
            if n == 0 {
                // Empty answer: a NULL response with rc 0 reads as nil in Lua; send "".
                *rsp = 0;
            }
            ngx_http_lua_ffi_respond(task, 0, rsp.cast(), n as c_int);
        }
    }
}

/// # Safety
/// Called by the module with a C string or NULL and its task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    let prefix = if cfg.is_null() { Vec::new() } else { CStr::from_ptr(cfg).to_bytes().to_vec() };
    let tq = Queue(tq);
    match thread::Builder::new().name("ffi_echo".into()).spawn(move || serve(tq, prefix)) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}
