//! Every `extern "C"` function the module exports.
//!
//! Two audiences:
//! - runtime libraries (any thread): `ngx_http_lua_ffi_task_poll`, `ngx_http_lua_ffi_get_req`,
//!   `ngx_http_lua_ffi_respond`, with the names and semantics of the original lua-resty-ffi;
//! - `lua/resty_ffi.lua` through LuaJIT FFI (worker thread): `ngx_http_resty_ffi_*`.
//!
//! No panic crosses these functions: each body runs under `catch_unwind`.

use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::ptr;
use std::rc::Rc;

use nginx_sys::ngx_http_request_t;

use crate::done_queue;
use crate::loaded::{self, Loaded};
use crate::lua_sema::Sema;
use crate::panic_guard::guard;
use crate::queue::RequestQueue;
use crate::runtime_log;
use crate::task::TaskPtr;
use crate::worker;

/// Writes `msg` into the caller's buffer (`*errlen` in: capacity, out: length).
///
/// # Safety
/// `err` must be valid for `*errlen` bytes, `errlen` valid for reads and writes.
unsafe fn write_err(err: *mut u8, errlen: *mut usize, msg: &str) {
    if err.is_null() || errlen.is_null() {
        return;
    }
    let n = msg.len().min(*errlen);
    ptr::copy_nonoverlapping(msg.as_ptr(), err, n);
    *errlen = n;
}

// ---------------------------------------------------------------------------------------
// Runtime side
// ---------------------------------------------------------------------------------------

/// Polling on the nginx worker thread (say, from `libffi_init`) would block the worker, and
/// with it the answers it waits for, for good: refused with NULL, and logged.
fn refuse_poll_on_worker_thread() -> bool {
    if !worker::on_worker_thread() {
        return false;
    }
    let why = b"task_poll called on the nginx worker thread (from libffi_init?): it would block the worker for good, so it returns NULL; poll from a thread of the runtime's own";
    if runtime_log::push(nginx_sys::NGX_LOG_ERR as usize, why) {
        if let Some(done) = done_queue::get() {
            done.notify();
        }
    }
    true
}

/// Blocks until a task is queued; NULL once the runtime is unloaded and its queue drained.
///
/// # Safety
/// `tq` must be the pointer given to `libffi_init`.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_lua_ffi_task_poll(tq: *mut c_void) -> *mut c_void {
    guard(ptr::null_mut(), || {
        if tq.is_null() {
            return ptr::null_mut();
        }
        if refuse_poll_on_worker_thread() {
            return ptr::null_mut();
        }
        // SAFETY: tq is the queue handed to libffi_init; the runtime owns a reference to it.
        let queue = unsafe { &*(tq as *const RequestQueue) };
        queue.poll().map_or(ptr::null_mut(), TaskPtr::handle)
    })
}

/// Batch poll: blocks until at least one task is queued, stores up to `max` task handles in
/// `tasks` and returns how many; 0 once the runtime is unloaded and drained.
///
/// # Safety
/// `tq` as for `ngx_http_lua_ffi_task_poll`; `tasks` valid for `max` pointers.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_poll_batch(
    tq: *mut c_void,
    tasks: *mut *mut c_void,
    max: c_int,
) -> c_int {
    guard(0, || {
        if tq.is_null() || tasks.is_null() || max <= 0 || refuse_poll_on_worker_thread() {
            return 0;
        }
        // SAFETY: tq is the queue handed to libffi_init; the runtime owns a reference to it.
        let queue = unsafe { &*(tq as *const RequestQueue) };
        let mut i = 0;
        queue.poll_batch(max as usize, |t| {
            // SAFETY: at most `max` writes into the caller's array.
            unsafe { *tasks.add(i) = t.handle() };
            i += 1;
        });
        i as c_int
    })
}

/// The request bytes of a task (NUL-terminated as well); `len` may be NULL.
///
/// # Safety
/// `task` must come from `ngx_http_lua_ffi_task_poll` and not be answered yet.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_lua_ffi_get_req(task: *mut c_void, len: *mut c_int) -> *mut c_char {
    guard(ptr::null_mut(), || {
        // A handle that is stale or not in a runtime's hands gets NULL.
        let Some(task) = TaskPtr::from_handle(task) else {
            return ptr::null_mut();
        };
        task.note_runtime_thread();
        let Some((p, n)) = task.request() else {
            return ptr::null_mut();
        };
        if !len.is_null() {
            // SAFETY: the caller passes a valid int pointer or NULL.
            unsafe { *len = c_int::try_from(n).unwrap_or(c_int::MAX) };
        }
        p.cast_mut()
    })
}

/// Answers a task. `rsp` is malloc()ed by the runtime (or NULL) and freed by the module;
/// `rsp_len` 0 with a non-NULL `rsp` means a NUL-terminated string; `rc` 0 is success.
///
/// # Safety
/// `task` must come from `ngx_http_lua_ffi_task_poll`; `rsp` NULL or malloc()ed.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_lua_ffi_respond(
    task: *mut c_void,
    rc: c_int,
    rsp: *mut c_char,
    rsp_len: c_int,
) {
    guard((), || {
        let len = match (rsp.is_null(), rsp_len) {
            (true, _) => 0,
            // SAFETY: by the ABI a non-NULL rsp with len <= 0 is a C string.
            (false, n) if n <= 0 => unsafe { libc::strlen(rsp) },
            (false, n) => n as usize,
        };
        let Some(done) = done_queue::get() else {
            // SAFETY: rsp is NULL or malloc()ed by the runtime.
            unsafe { libc::free(rsp.cast()) };
            return;
        };
        let Some(task) = TaskPtr::from_handle(task) else {
            // SAFETY: rsp is NULL or malloc()ed by the runtime; not stored anywhere.
            unsafe { libc::free(rsp.cast()) };
            done.note_stray_respond();
            return;
        };
        task.note_runtime_thread();
        match task.respond(rc, rsp, len) {
            Ok(()) => done.push(task),
            Err(_) => {
                // SAFETY: the response was not stored, so it is still ours to free.
                unsafe { libc::free(rsp.cast()) };
                done.note_stray_respond();
            }
        }
    })
}

/// Logs a runtime's message into nginx's error.log at an nginx level (1 emerg .. 8 debug).
/// Any thread; never blocks. `len` <= 0 means `msg` is a NUL-terminated string.
///
/// # Safety
/// `msg` NULL, a C string, or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_log(level: c_int, msg: *const c_char, len: c_int) {
    guard((), || {
        if msg.is_null() {
            return;
        }
        let n = if len <= 0 {
            // SAFETY: by the ABI, len <= 0 means msg is a NUL-terminated string.
            unsafe { libc::strlen(msg) }
        } else {
            len as usize
        };
        // SAFETY: the caller's buffer of n bytes.
        let bytes = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), n) };
        let level = usize::try_from(level).unwrap_or(0);
        match done_queue::get() {
            Some(done) => {
                if runtime_log::push(level, bytes) {
                    done.notify();
                }
            }
            // No worker event loop in this process (yet): stderr is nginx's error log too.
            None => eprintln!("[resty_ffi] {}", String::from_utf8_lossy(bytes)),
        }
    })
}

// ---------------------------------------------------------------------------------------
// Lua side (worker thread only)
// ---------------------------------------------------------------------------------------

/// The worker's runtime for (`lib`, `cfg`), loading it (`dlopen`, `libffi_init(cfg, tq)`) if
/// no Lua VM of the worker did; NULL and a message on failure. The caller holds a reference.
///
/// # Safety
/// `lib` a C string, `cfg` a C string or NULL, `err`/`errlen` as for [`write_err`].
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_load(
    lib: *const c_char,
    cfg: *const c_char,
    max_queue: c_int,
    flags: c_int,
    err: *mut u8,
    errlen: *mut usize,
) -> *mut Loaded {
    let result = guard(Err("panic while loading the runtime".to_string()), || {
        worker::init()?;
        if lib.is_null() {
            return Err("no library name".to_string());
        }
        // SAFETY: C strings from Lua.
        let lib = unsafe { CStr::from_ptr(lib) }.to_string_lossy().into_owned();
        let cfg = (!cfg.is_null()).then(|| unsafe { CStr::from_ptr(cfg) });
        let max_queue = usize::try_from(max_queue).unwrap_or(0);
        if max_queue == 0 {
            return Err("max_queue must be a positive integer".to_string());
        }
        let loaded = loaded::load(&lib, cfg, max_queue, flags)?;
        // Lua's reference: dropped by ngx_http_resty_ffi_unload or _release.
        Ok(Rc::into_raw(loaded).cast_mut())
    });
    match result {
        Ok(rt) => rt,
        Err(msg) => {
            // SAFETY: the caller's buffer.
            unsafe { write_err(err, errlen, &msg) };
            ptr::null_mut()
        }
    }
}

/// Unloads a runtime for every Lua VM and drops the caller's reference; the caller must not
/// use `rt` afterwards.
///
/// # Safety
/// `rt` from `ngx_http_resty_ffi_load`, its reference given back once (here or by release).
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_unload(rt: *mut Loaded) -> c_int {
    guard(-1, || {
        if rt.is_null() {
            return -1;
        }
        // SAFETY: a reference handed out by load, given back once.
        let loaded = unsafe { Rc::from_raw(rt.cast_const()) };
        loaded::unload(&loaded);
        0
    })
}

/// Drops the caller's reference without unloading (a Lua VM that ends: the runtime goes on
/// for the worker's other VMs and later loads).
///
/// # Safety
/// As for [`ngx_http_resty_ffi_unload`].
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_release(rt: *mut Loaded) {
    guard((), || {
        if !rt.is_null() {
            // SAFETY: a reference handed out by load, given back once.
            drop(unsafe { Rc::from_raw(rt.cast_const()) });
        }
    })
}

/// Queues a call; NULL and a message ("queue full", "runtime unloaded", ...) on failure.
/// On success `*psem` is the semaphore to wait on; the task is returned as its handle.
///
/// # Safety
/// `r` the current request, `rt` a live runtime, `req` valid for `len` bytes, `psem` and
/// `err`/`errlen` valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_post(
    r: *mut ngx_http_request_t,
    rt: *mut Loaded,
    req: *const c_char,
    len: usize,
    psem: *mut *mut Sema,
    err: *mut u8,
    errlen: *mut usize,
) -> *mut c_void {
    let result = guard(Err("panic while posting the task".to_string()), || {
        if r.is_null() || rt.is_null() || psem.is_null() || (req.is_null() && len > 0) {
            return Err("bad arguments".to_string());
        }
        // SAFETY: the caller's pointers, checked for NULL above.
        let (rt, bytes) = unsafe {
            let bytes = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(req.cast::<u8>(), len)
            };
            (&*rt, bytes)
        };
        // SAFETY: r is the calling coroutine's request; worker thread.
        let (task, sem) = unsafe { worker::post(r, rt.queue(), bytes) }?;
        // SAFETY: checked non-NULL.
        unsafe { *psem = sem };
        Ok(task.handle())
    });
    match result {
        Ok(t) => t,
        Err(msg) => {
            // SAFETY: the caller's buffer.
            unsafe { write_err(err, errlen, &msg) };
            ptr::null_mut()
        }
    }
}

/// The answer of a task whose semaphore was posted: returns 0 and sets rc and the response
/// bytes (valid until `ngx_http_resty_ffi_finish`); 1 when there is no answer because the
/// worker is exiting (the task is then the module's: do not finish it); -1 for a bad handle.
///
/// # Safety
/// `task` from `ngx_http_resty_ffi_post`, posted, not finished; out-pointers valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_result(
    task: *mut c_void,
    rsp: *mut *const c_char,
    len: *mut usize,
    rc: *mut c_int,
) -> c_int {
    guard(-1, || {
        let Some(task) = TaskPtr::from_handle(task) else {
            return -1;
        };
        let Some((code, data, n)) = worker::result(task) else {
            return 1;
        };
        // SAFETY: the caller's out-pointers.
        unsafe {
            *rsp = data;
            *len = n;
            *rc = code;
        }
        0
    })
}

/// Frees a task whose answer Lua has read.
///
/// # Safety
/// `task` from `ngx_http_resty_ffi_post`, answered; not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_finish(task: *mut c_void) {
    guard((), || {
        if let Some(task) = TaskPtr::from_handle(task) {
            worker::finish(task);
        }
    })
}

/// The waiter gives up (timeout or error): 1 if the answer is there after all (read it,
/// then finish), 0 if the task is left to the module, which frees it when it comes back.
///
/// # Safety
/// `task` from `ngx_http_resty_ffi_post`, not finished; not used afterwards if 0.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_abandon(task: *mut c_void) -> c_int {
    guard(0, || match TaskPtr::from_handle(task) {
        Some(task) => c_int::from(worker::abandon(task)),
        None => 0,
    })
}

/// Tasks allocated and not yet freed in this worker (for tests and operators).
#[no_mangle]
pub extern "C" fn ngx_http_resty_ffi_live_tasks() -> c_long {
    guard(-1, || {
        c_long::try_from(worker::live_tasks()).unwrap_or(c_long::MAX)
    })
}

#[cfg(test)]
mod contract_tests {
    //! abi/resty_ffi.h is the one written contract: everything that declares the ABI
    //! elsewhere must agree with it.

    const HEADER: &str = include_str!("../abi/resty_ffi.h");

    fn normalize(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The C text without comments and preprocessor lines.
    fn code_of(c: &str) -> String {
        let mut out = String::new();
        let mut rest = c;
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
        }
        out.push_str(rest);
        out.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The names of the functions a C text declares (`name(` after a type).
    fn declared_functions(c: &str) -> Vec<String> {
        normalize(&code_of(c))
            .split(';')
            .filter_map(|decl| {
                let decl = decl.trim();
                let open = decl.find('(')?;
                let name = decl[..open].rsplit([' ', '*']).next()?;
                (!decl.starts_with("typedef") && !decl.starts_with('#')).then(|| name.to_string())
            })
            .collect()
    }

    #[test]
    fn the_lua_cdef_is_the_header_verbatim() {
        let lua = include_str!("../lua/resty/ffi.lua");
        let start = lua.find("ffi.cdef[[").expect("a cdef block") + "ffi.cdef[[".len();
        let end = start + lua[start..].find("]]").expect("its end");
        let header = normalize(HEADER);
        for decl in lua[start..end]
            .split(';')
            .map(normalize)
            .filter(|d| !d.is_empty())
        {
            assert!(header.contains(&decl), "not in abi/resty_ffi.h: {decl}");
        }
    }

    #[test]
    fn every_exported_function_is_in_the_header() {
        let header_functions = declared_functions(HEADER);
        // (the exports, not this test's own text)
        let src = include_str!("abi.rs")
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default();
        let mut exported = 0;
        for chunk in src.split("#[no_mangle]").skip(1) {
            let after_fn = chunk.split(" fn ").nth(1).expect("a function after #[no_mangle]");
            let name = after_fn.split('(').next().unwrap_or_default().trim();
            assert!(
                header_functions.iter().any(|f| f == name),
                "{name} is not in abi/resty_ffi.h"
            );
            exported += 1;
        }
        assert!(exported >= 12, "found {exported} exports");
    }

    #[test]
    fn the_test_runtimes_declare_what_the_header_does() {
        let header_functions = declared_functions(HEADER);
        let rust = include_str!("../t/runtimes/ffi_test/src/lib.rs");
        let block = rust.split("extern \"C\" {").nth(1).expect("an extern block");
        let block = &block[..block.find('}').expect("its end")];
        for decl in block.split(';').filter(|d| d.contains("fn ")) {
            let name = decl
                .split("fn ")
                .nth(1)
                .and_then(|d| d.split('(').next())
                .unwrap_or_default();
            assert!(
                header_functions.iter().any(|f| f == name.trim()),
                "{name} is not in abi/resty_ffi.h"
            );
        }
    }
}
