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
use crate::task::{Request, TaskPtr};
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

/// Whether the caller of a task the runtime holds gave up on it (timeout, its request
/// ended, the worker is exiting): 1 yes (or a handle that is no longer current), 0 no. Any
/// thread; cheap (one atomic load).
///
/// # Safety
/// `task` from `ngx_http_lua_ffi_task_poll`, any value accepted.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_cancelled(task: *mut c_void) -> c_int {
    guard(1, || match TaskPtr::from_handle(task) {
        Some(task) => c_int::from(task.is_cancelled()),
        None => 1,
    })
}

/// When the caller of a task stops waiting: CLOCK_MONOTONIC in nanoseconds; 0 when the call
/// has no timeout (or the handle is no longer current). Any thread.
///
/// # Safety
/// `task` from `ngx_http_lua_ffi_task_poll`, any value accepted.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_deadline(task: *mut c_void) -> i64 {
    guard(0, || {
        TaskPtr::from_handle(task).map_or(0, |t| i64::try_from(t.deadline_ns()).unwrap_or(i64::MAX))
    })
}

/// Blocks until tasks the runtime holds (taken, not answered) are cancelled, stores up to
/// `max` of their handles in `tasks` and returns how many; 0 once the runtime is unloaded;
/// -1 on nginx's own thread or with bad arguments. A cancelled task must still be answered.
///
/// # Safety
/// `tq` as for `ngx_http_lua_ffi_task_poll`; `tasks` valid for `max` pointers.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_cancel_poll(
    tq: *mut c_void,
    tasks: *mut *mut c_void,
    max: c_int,
) -> c_int {
    guard(-1, || {
        if tq.is_null() || tasks.is_null() || max <= 0 || refuse_poll_on_worker_thread() {
            return -1;
        }
        // SAFETY: tq is the queue handed to libffi_init; the runtime owns a reference to it.
        let queue = unsafe { &*(tq as *const RequestQueue) };
        let mut i = 0;
        queue.cancel_poll(max as usize, |t| {
            // SAFETY: at most `max` writes into the caller's array.
            unsafe { *tasks.add(i) = t.handle() };
            i += 1;
        });
        i as c_int
    })
}

// ---- Shared dictionaries (lua_shared_dict), from any thread -------------------------------

/// Sets `*err` (if given) to a static message.
///
/// # Safety
/// `err` NULL or valid for a write.
unsafe fn set_err(err: *mut *const c_char, msg: &'static str) {
    // Static NUL-terminated copies of every message the shared-dictionary calls give.
    static MESSAGES: &[(&str, &CStr)] = &[
        ("empty key", c"empty key"),
        ("key too long", c"key too long"),
        ("bad value type", c"bad value type"),
        ("bad operation", c"bad operation"),
        ("bad exptime", c"bad exptime"),
        ("bad init_ttl", c"bad init_ttl"),
        ("no memory", c"no memory"),
        ("exists", c"exists"),
        ("not found", c"not found"),
        ("not a number", c"not a number"),
        ("worker exiting", c"worker exiting"),
        ("value is a list", c"value is a list"),
        ("attempt to add or replace nil values", c"attempt to add or replace nil values"),
        ("unsupported value type", c"unsupported value type"),
        ("no lua_shared_dict of that name in nginx.conf", c"no lua_shared_dict of that name in nginx.conf"),
        (
            "lua-nginx-module's shared dictionary functions are not in this process",
            c"lua-nginx-module's shared dictionary functions are not in this process",
        ),
    ];
    if err.is_null() {
        return;
    }
    let text = MESSAGES
        .iter()
        .find(|(m, _)| *m == msg)
        .map_or(c"shared dictionary operation failed", |(_, c)| *c);
    // SAFETY: checked non-NULL; the caller's pointer.
    unsafe { *err = text.as_ptr() };
}

/// The caller's bytes, or an empty slice for NULL.
///
/// # Safety
/// `p` NULL or valid for `len` bytes.
unsafe fn bytes<'a>(p: *const c_char, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's buffer.
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
    }
}

/// A `lua_shared_dict` zone by name, valid for the worker's life; NULL and `*err` if none.
///
/// # Safety
/// `name` valid for `len` bytes; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict(
    name: *const c_char,
    len: usize,
    err: *mut *const c_char,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller's buffer.
        match crate::shdict::find(unsafe { bytes(name, len) }) {
            Ok(zone) => zone,
            Err(msg) => {
                // SAFETY: the caller's pointer.
                unsafe { set_err(err, msg) };
                ptr::null_mut()
            }
        }
    })
}

/// Reads a key: 0 and `*type` (NIL when absent or expired), the value (a string as a
/// malloc()ed copy in `*str`, `*str_len` bytes, that the caller frees; a number or boolean
/// in `*num`) and its user flags; -1 and `*err` on error.
///
/// # Safety
/// `dict` from `ngx_http_resty_ffi_shdict`; `key` valid for `key_len` bytes; out-pointers
/// valid (`flags`, `err` may be NULL).
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict_get(
    dict: *mut c_void,
    key: *const c_char,
    key_len: usize,
    typ: *mut c_int,
    str_value: *mut *mut c_char,
    str_len: *mut usize,
    num: *mut f64,
    flags: *mut c_int,
    err: *mut *const c_char,
) -> c_int {
    use crate::shdict::Value;
    guard(-1, || {
        if dict.is_null() || typ.is_null() || str_value.is_null() || str_len.is_null() || num.is_null() {
            // SAFETY: the caller's pointer.
            unsafe { set_err(err, "bad operation") };
            return -1;
        }
        // SAFETY: the zone and key as documented.
        match unsafe { crate::shdict::get(dict, bytes(key, key_len)) } {
            Ok((value, user_flags)) => {
                // SAFETY: out-pointers checked above (flags may be NULL).
                unsafe {
                    *str_value = ptr::null_mut();
                    *str_len = 0;
                    *num = 0.0;
                    *typ = match value {
                        Value::Nil => crate::shdict::TYPE_NIL,
                        Value::Boolean(b) => {
                            *num = f64::from(u8::from(b));
                            crate::shdict::TYPE_BOOLEAN
                        }
                        Value::Number(n) => {
                            *num = n;
                            crate::shdict::TYPE_NUMBER
                        }
                        Value::String(p, n) => {
                            *str_value = p.cast();
                            *str_len = n;
                            crate::shdict::TYPE_STRING
                        }
                    };
                    if !flags.is_null() {
                        *flags = user_flags;
                    }
                }
                0
            }
            Err(msg) => {
                // SAFETY: the caller's pointer.
                unsafe { set_err(err, msg) };
                -1
            }
        }
    })
}

/// Stores a value with `op` (RESTY_FFI_SHDICT_SET, ADD, REPLACE, SAFE_SET, SAFE_ADD; type NIL
/// deletes), an expiry in ms (0: never) and user flags: 0 stored (`*forcible` 1 if valid
/// items were evicted for room); 1 not stored, `*err` "exists" (add) or "not found"
/// (replace); -1 error, `*err` ("no memory", ...).
///
/// # Safety
/// `dict` from `ngx_http_resty_ffi_shdict`; `key`, `str` valid for their lengths;
/// `forcible`, `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict_store(
    dict: *mut c_void,
    op: c_int,
    key: *const c_char,
    key_len: usize,
    typ: c_int,
    str_value: *const c_char,
    str_len: usize,
    num: f64,
    exptime_ms: c_long,
    flags: c_int,
    forcible: *mut c_int,
    err: *mut *const c_char,
) -> c_int {
    use crate::shdict::Stored;
    guard(-1, || {
        if dict.is_null() {
            // SAFETY: the caller's pointer.
            unsafe { set_err(err, "bad operation") };
            return -1;
        }
        // SAFETY: the zone and buffers as documented.
        let result = unsafe {
            crate::shdict::store(
                dict,
                op,
                bytes(key, key_len),
                typ,
                bytes(str_value, str_len),
                num,
                exptime_ms,
                flags,
            )
        };
        // SAFETY: the caller's pointers (NULL allowed).
        unsafe {
            match result {
                Ok(Stored::Done { forcible: f }) => {
                    if !forcible.is_null() {
                        *forcible = c_int::from(f);
                    }
                    0
                }
                Ok(Stored::Declined(msg)) => {
                    set_err(err, msg);
                    1
                }
                Err(msg) => {
                    set_err(err, msg);
                    -1
                }
            }
        }
    })
}

/// Adds `delta` to a number: 0 and `*value` the new value (`*forcible` as for store); with
/// `has_init`, a missing key starts at `init` (expiring after `init_ttl_ms`, 0: never);
/// 1 and `*err` "not found" or "not a number"; -1 and `*err` on error.
///
/// # Safety
/// `dict` from `ngx_http_resty_ffi_shdict`; `key` valid for `key_len`; `value` valid;
/// `forcible`, `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict_incr(
    dict: *mut c_void,
    key: *const c_char,
    key_len: usize,
    delta: f64,
    has_init: c_int,
    init: f64,
    init_ttl_ms: c_long,
    value: *mut f64,
    forcible: *mut c_int,
    err: *mut *const c_char,
) -> c_int {
    use crate::shdict::Stored;
    guard(-1, || {
        if dict.is_null() || value.is_null() {
            // SAFETY: the caller's pointer.
            unsafe { set_err(err, "bad operation") };
            return -1;
        }
        let init = (has_init != 0).then_some(init);
        // SAFETY: the zone and key as documented.
        let result = unsafe { crate::shdict::incr(dict, bytes(key, key_len), delta, init, init_ttl_ms) };
        // SAFETY: the caller's pointers (NULL allowed for forcible and err).
        unsafe {
            match result {
                Ok((Stored::Done { forcible: f }, v)) => {
                    *value = v;
                    if !forcible.is_null() {
                        *forcible = c_int::from(f);
                    }
                    0
                }
                Ok((Stored::Declined(msg), _)) => {
                    set_err(err, msg);
                    1
                }
                Err(msg) => {
                    set_err(err, msg);
                    -1
                }
            }
        }
    })
}

/// A key's time to live in ms, 0 if it never expires; -1 if it is not there (or bad).
///
/// # Safety
/// `dict` from `ngx_http_resty_ffi_shdict`; `key` valid for `key_len`.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict_ttl(
    dict: *mut c_void,
    key: *const c_char,
    key_len: usize,
) -> c_long {
    guard(-1, || {
        if dict.is_null() {
            return -1;
        }
        // SAFETY: the zone and key as documented.
        match unsafe { crate::shdict::ttl(dict, bytes(key, key_len)) } {
            Ok(Some(ms)) => ms.max(0),
            _ => -1,
        }
    })
}

/// Sets a key's expiry in ms (0: never): 0 done, 1 not found, -1 bad arguments.
///
/// # Safety
/// `dict` from `ngx_http_resty_ffi_shdict`; `key` valid for `key_len`.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_shdict_expire(
    dict: *mut c_void,
    key: *const c_char,
    key_len: usize,
    exptime_ms: c_long,
) -> c_int {
    guard(-1, || {
        if dict.is_null() {
            return -1;
        }
        // SAFETY: the zone and key as documented.
        match unsafe { crate::shdict::set_expire(dict, bytes(key, key_len), exptime_ms) } {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(_) => -1,
        }
    })
}

// ---- Streams: an answer in chunks ------------------------------------------------------

/// 1 if the task's caller reads its answer as a stream (send chunks, then answer), else 0.
///
/// # Safety
/// `task` from `ngx_http_lua_ffi_task_poll`, any value accepted.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_streaming(task: *mut c_void) -> c_int {
    guard(0, || {
        c_int::from(TaskPtr::from_handle(task).is_some_and(|t| t.stream().is_some()))
    })
}

fn send_chunk(task: *mut c_void, buf: *const c_char, len: usize, block: bool) -> c_int {
    use crate::stream::Sent;
    let Some(task) = TaskPtr::from_handle(task) else {
        return -1;
    };
    if !task.is_taken() || (buf.is_null() && len > 0) {
        return -1;
    }
    let Some(stream) = task.stream() else {
        return -1;
    };
    // Still the task this handle names? A runtime answering on another thread meanwhile (it
    // must not) lets the worker free the slot and a new stream call take it: the stream just
    // read would be that call's, and the chunk would land in another caller's answer.
    if !task.is_taken() {
        return -1;
    }
    if block && worker::on_worker_thread() {
        return -1;
    }
    task.note_runtime_thread();
    // SAFETY: the caller's buffer of len bytes (checked non-NULL when len > 0).
    let chunk = unsafe { bytes(buf, len) };
    match stream.send(chunk, block) {
        Sent::Sent => {
            // (An empty chunk was not queued: nothing to tell the reader.)
            if !chunk.is_empty() {
                if let Some(done) = done_queue::get() {
                    done.push_chunk(task);
                }
            }
            0
        }
        Sent::WouldBlock => 1,
        Sent::Cancelled => RC_CANCELLED,
    }
}

/// Sends one chunk of a stream call's answer (copied). Waits while the chunks its caller
/// has not read fill the call's window. 0 sent; RESTY_FFI_RC_CANCELLED the caller is gone
/// (stop sending, then answer); -1 not a stream task in the runtime's hands (or nginx's
/// thread). End the stream by answering the task (`ngx_http_lua_ffi_respond`).
///
/// # Safety
/// `task` from `ngx_http_lua_ffi_task_poll`; `buf` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_send(
    task: *mut c_void,
    buf: *const c_char,
    len: usize,
) -> c_int {
    guard(-1, || send_chunk(task, buf, len, true))
}

/// As `ngx_http_resty_ffi_task_send`, but 1 instead of waiting when the window is full.
///
/// # Safety
/// As for `ngx_http_resty_ffi_task_send`.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_task_try_send(
    task: *mut c_void,
    buf: *const c_char,
    len: usize,
) -> c_int {
    guard(-1, || send_chunk(task, buf, len, false))
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
            Ok(()) => done.push_answer(task),
            Err(_) => {
                // SAFETY: the response was not stored, so it is still ours to free.
                unsafe { libc::free(rsp.cast()) };
                done.note_stray_respond();
            }
        }
    })
}

/// Answers a task with a copy of `len` bytes at `rsp`, which stay the runtime's: the module
/// copies them into the task's own buffer, reused from call to call, so a small answer costs
/// no `malloc` in the runtime and no `free` in the worker. `rsp` NULL: a NULL answer (nil in
/// Lua; `len` is ignored); `len` 0 with a non-NULL `rsp`: the empty string. Otherwise as
/// `ngx_http_lua_ffi_respond`: a stale handle or a second answer is ignored (and counted).
///
/// # Safety
/// `task` must come from `ngx_http_lua_ffi_task_poll`; `rsp` NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_respond_copy(
    task: *mut c_void,
    rc: c_int,
    rsp: *const c_char,
    len: usize,
) {
    guard((), || {
        let Some(done) = done_queue::get() else {
            return;
        };
        let Some(task) = TaskPtr::from_handle(task) else {
            done.note_stray_respond();
            return;
        };
        task.note_runtime_thread();
        let answered = if len > isize::MAX as usize {
            // No buffer has that many bytes: a length gone wrong.
            task.respond_copy(resty_ffi_abi::rc::NO_MEMORY, None)
        } else {
            // SAFETY: the caller guarantees `len` readable bytes at a non-NULL `rsp`.
            let bytes = (!rsp.is_null()).then(|| unsafe { std::slice::from_raw_parts(rsp.cast::<u8>(), len) });
            task.respond_copy(rc, bytes)
        };
        match answered {
            Ok(()) => done.push_answer(task),
            Err(_) => done.note_stray_respond(),
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

/// Queues a call (`timeout_ms`: how long its caller waits, 0 for ever, the runtime's
/// deadline); NULL and a message ("queue full", "runtime unloaded", ...) on failure.
/// On success `*psem` is the semaphore to wait on; the task is returned as its handle.
/// With `lend` != 0 the request may be lent instead of copied (see `lent`): `*lent` says
/// whether it was, and then the caller keeps `req` alive and unchanged until it finishes
/// the task itself or finds its handle in `ngx_http_resty_ffi_released`. `*released`: how
/// many handles wait there.
///
/// # Safety
/// `r` the current request, `rt` a live runtime, `req` valid for `len` bytes (and with
/// `lend`, for one more that is NUL when it can be lent), `psem`, `lent`, `released` and
/// `err`/`errlen` valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_post(
    r: *mut ngx_http_request_t,
    rt: *mut Loaded,
    req: *const c_char,
    len: usize,
    lend: c_int,
    timeout_ms: u64,
    stream_window: usize,
    psem: *mut *mut Sema,
    lent: *mut c_int,
    released: *mut usize,
    err: *mut u8,
    errlen: *mut usize,
) -> *mut c_void {
    let result = guard(Err("panic while posting the task".to_string()), || {
        if r.is_null()
            || rt.is_null()
            || psem.is_null()
            || lent.is_null()
            || released.is_null()
            || (req.is_null() && len > 0)
        {
            return Err("bad arguments".to_string());
        }
        // SAFETY: the caller's pointers, checked for NULL above; a lendable request has its
        // NUL byte at req[len] (checked here: a Lua string always has it).
        let (rt, request) = unsafe {
            let request = if lend != 0 && !req.is_null() && *req.add(len) == 0 && crate::lent::may_lend(r) {
                Request::Lent {
                    ptr: req.cast::<u8>(),
                    len,
                }
            } else if len == 0 {
                Request::Copy(&[][..])
            } else {
                Request::Copy(std::slice::from_raw_parts(req.cast::<u8>(), len))
            };
            (&*rt, request)
        };
        // SAFETY: r is the calling coroutine's request; worker thread.
        let (task, sem) = unsafe { worker::post(r, rt.queue(), request, timeout_ms, stream_window) }?;
        // SAFETY: checked non-NULL.
        unsafe {
            *psem = sem;
            *lent = c_int::from(task.is_lent());
            *released = crate::lent::released();
        }
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
            // Lua lets go of a lent request's string itself.
            crate::lent::let_go(task);
            worker::finish(task);
        }
    })
}

/// Right after `ngx_http_resty_ffi_post`: 1 if the answer came while the worker spun for it
/// inside this call (read it with `ngx_http_resty_ffi_result` at once: its semaphore is not
/// posted and must not be waited on), 0 if the caller waits on the semaphore as usual.
///
/// # Safety
/// `task` just returned by `ngx_http_resty_ffi_post`, not waited on yet.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_wait_briefly(task: *mut c_void) -> c_int {
    guard(0, || match TaskPtr::from_handle(task) {
        Some(task) => c_int::from(worker::wait_briefly(task)),
        None => 0,
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

/// The numbers of every runtime loaded in this worker, as text (`telemetry::write_text`):
/// 0 and `*len` set when it fits in `buf` (`*len` bytes), else 1 and `*len` the size needed.
///
/// # Safety
/// `buf` valid for `*len` bytes; `len` valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_stats(buf: *mut u8, len: *mut usize) -> c_int {
    guard(-1, || {
        if len.is_null() {
            return -1;
        }
        let text = crate::loaded::stats_text();
        // SAFETY: the caller's size pointer.
        let room = unsafe { *len };
        // SAFETY: as above.
        unsafe { *len = text.len() };
        if text.len() > room || buf.is_null() {
            return 1;
        }
        // SAFETY: buf has room for text.len() bytes (checked).
        unsafe { ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len()) };
        0
    })
}

/// Telemetry on (1, the default) or off (0) in this worker; returns the previous setting.
#[no_mangle]
pub extern "C" fn ngx_http_resty_ffi_telemetry(on: c_int) -> c_int {
    guard(-1, || {
        let was = crate::telemetry::enabled();
        if on >= 0 {
            crate::telemetry::set_enabled(on != 0);
        }
        c_int::from(was)
    })
}

/// Lua side: the next chunk of a stream call: 1 and the chunk (valid until the next call or
/// the task's end); 0 nothing yet (wait on the semaphore: the next chunk or the end posts
/// it); 2 the stream ended (read the answer with `ngx_http_resty_ffi_result`); 3 another
/// coroutine waits for the next chunk already (do not wait too); -1 not a stream, or given up.
///
/// # Safety
/// `task` from `ngx_http_resty_ffi_post` with a window; out-pointers valid.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_stream_next(
    task: *mut c_void,
    chunk: *mut *const c_char,
    len: *mut usize,
) -> c_int {
    use crate::worker::StreamNext;
    guard(-1, || {
        let Some(task) = TaskPtr::from_handle(task) else {
            return -1;
        };
        match worker::stream_next(task) {
            Some(StreamNext::Chunk(p, n)) => {
                // SAFETY: the caller's out-pointers.
                unsafe {
                    *chunk = p.cast();
                    *len = n;
                }
                1
            }
            Some(StreamNext::Wait) => 0,
            Some(StreamNext::End) => 2,
            Some(StreamNext::Busy) => 3,
            None => -1,
        }
    })
}

/// Tasks allocated and not yet freed in this worker (for tests and operators).
#[no_mangle]
pub extern "C" fn ngx_http_resty_ffi_live_tasks() -> c_long {
    guard(-1, || {
        c_long::try_from(worker::live_tasks()).unwrap_or(c_long::MAX)
    })
}

/// Moves up to `max` handles of freed tasks whose lent strings Lua may let go of into
/// `handles`; returns how many (-1: bad arguments).
///
/// # Safety
/// `handles` valid for `max` values.
#[no_mangle]
pub unsafe extern "C" fn ngx_http_resty_ffi_released(handles: *mut u64, max: c_int) -> c_int {
    guard(-1, || {
        if handles.is_null() || max < 0 {
            return -1;
        }
        // SAFETY: the caller's buffer of max values.
        let out = unsafe { std::slice::from_raw_parts_mut(handles, max as usize) };
        crate::lent::take_released(out) as c_int
    })
}

/// Lent requests not freed yet in this worker (for tests).
#[no_mangle]
pub extern "C" fn ngx_http_resty_ffi_lent_tasks() -> c_long {
    guard(-1, || {
        c_long::try_from(crate::lent::live()).unwrap_or(c_long::MAX)
    })
}

/// The answer code of a call cancelled before a runtime took it (RESTY_FFI_RC_CANCELLED).
pub const RC_CANCELLED: c_int = resty_ffi_abi::rc::CANCELLED;

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
    fn the_module_answers_the_header_codes() {
        assert!(normalize(HEADER).contains(&format!(
            "#define RESTY_FFI_RC_CANCELLED ({})",
            super::RC_CANCELLED
        )));
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
