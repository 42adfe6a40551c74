//! A runtime for the t/ suite, on the raw runtime ABI. Each request is a command:
//!
//! | request                 | answer                                                   |
//! |-------------------------|----------------------------------------------------------|
//! | `echo <bytes>`          | rc 0, the bytes                                          |
//! | `sleep <ms> <bytes>`    | rc 0, the bytes, after ms (on a thread of its own)       |
//! | `block <ms> <bytes>`    | rc 0, the bytes, after ms (the poll thread sleeps)       |
//! | `error <rc> <bytes>`    | rc, the bytes                                            |
//! | `null`                  | rc 0, a NULL response                                    |
//! | `cstr <text>`           | rc 0, the text as a NUL-terminated string (rsp_len 0)    |
//! | `twice <bytes>`         | answers twice (the second answer must be dropped)        |
//! | `hold <bytes>`          | answered only after task_poll returned NULL (unload)     |
//! | `fill <n> <byte>`       | rc 0, n copies of the byte                               |
//! | `inits`                 | rc 0, how many times libffi_init ran in this process     |
//!
//! | `init_poll`             | rc 0, what task_poll returned inside libffi_init         |
//!
//! cfg: `fail` makes libffi_init log an error and return 3; `threads=N` starts N poll threads
//! (default 1); `poll_in_init` calls task_poll on nginx's thread inside libffi_init (a bug
//! the module must survive: it returns NULL at once instead of blocking the worker).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

extern "C" {
    fn ngx_http_lua_ffi_task_poll(tq: *mut c_void) -> *mut c_void;
    fn ngx_http_lua_ffi_get_req(task: *mut c_void, len: *mut c_int) -> *mut c_char;
    fn ngx_http_lua_ffi_respond(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
    fn ngx_http_resty_ffi_log(level: c_int, msg: *const c_char, len: c_int);
}

static INITS: AtomicUsize = AtomicUsize::new(0);
/// What task_poll returned when called inside libffi_init: 1 NULL, 2 a task.
static INIT_POLL: AtomicUsize = AtomicUsize::new(0);

/// Tasks held back by `hold`, with their payloads, until the unload.
type Held = Mutex<Vec<(Ptr, Vec<u8>)>>;

#[derive(Clone, Copy)]
struct Ptr(*mut c_void);
// SAFETY: queue and task handles are thread-safe by the runtime ABI.
unsafe impl Send for Ptr {}

fn respond(task: Ptr, rc: c_int, bytes: &[u8]) {
    // SAFETY: a malloc()ed copy handed to the module, which frees it.
    unsafe {
        let p = libc::malloc(bytes.len().max(1)).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        if bytes.is_empty() {
            *p = 0;
        }
        ngx_http_lua_ffi_respond(task.0, rc, p.cast(), bytes.len() as c_int);
    }
}

fn split(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn num(b: &[u8]) -> usize {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn handle(task: Ptr, held: &Held) {
    let mut len: c_int = 0;
    // SAFETY: the task is live until answered; the request has `len` bytes.
    let req = unsafe {
        let p = ngx_http_lua_ffi_get_req(task.0, &mut len);
        std::slice::from_raw_parts(p.cast::<u8>(), len as usize).to_vec()
    };
    let (cmd, rest) = split(&req);
    match cmd {
        b"echo" => respond(task, 0, rest),
        b"sleep" => {
            let (ms, payload) = split(rest);
            let (ms, payload) = (num(ms), payload.to_vec());
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms as u64));
                respond(task, 0, &payload);
            });
        }
        b"block" => {
            let (ms, payload) = split(rest);
            thread::sleep(Duration::from_millis(num(ms) as u64));
            respond(task, 0, payload);
        }
        b"error" => {
            let (rc, payload) = split(rest);
            let rc = std::str::from_utf8(rc)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            respond(task, rc, payload);
        }
        // SAFETY: NULL response, rc 0.
        b"null" => unsafe { ngx_http_lua_ffi_respond(task.0, 0, std::ptr::null_mut(), 0) },
        b"cstr" => {
            let mut v = rest.to_vec();
            v.push(0);
            // SAFETY: malloc()ed NUL-terminated copy; rsp_len 0 means "C string".
            unsafe {
                let p = libc::malloc(v.len()).cast::<u8>();
                std::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
                ngx_http_lua_ffi_respond(task.0, 0, p.cast(), 0);
            }
        }
        b"twice" => {
            respond(task, 0, rest);
            respond(task, 0, rest);
        }
        b"hold" => held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((task, rest.to_vec())),
        b"fill" => {
            let (n, byte) = split(rest);
            respond(task, 0, &vec![byte.first().copied().unwrap_or(b'x'); num(n)]);
        }
        b"inits" => respond(task, 0, INITS.load(Ordering::SeqCst).to_string().as_bytes()),
        b"init_poll" => {
            let what: &[u8] = match INIT_POLL.load(Ordering::SeqCst) {
                0 => b"not called",
                1 => b"NULL",
                _ => b"a task",
            };
            respond(task, 0, what)
        }
        _ => respond(task, 22, b"unknown command"),
    }
}

fn serve(tq: Ptr, held: Arc<Held>) {
    loop {
        // SAFETY: tq is the queue given to libffi_init; not touched after NULL.
        let task = unsafe { ngx_http_lua_ffi_task_poll(tq.0) };
        if task.is_null() {
            break;
        }
        handle(Ptr(task), &held);
    }
    // Unloaded: answer what was held back, as an async runtime would.
    let held: Vec<_> = std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner()));
    for (task, payload) in held {
        respond(task, 0, &payload);
    }
}

/// # Safety
/// Called by the module with a C string or NULL and its task queue.
#[no_mangle]
pub unsafe extern "C" fn libffi_init(cfg: *mut c_char, tq: *mut c_void) -> c_int {
    INITS.fetch_add(1, Ordering::SeqCst);
    let cfg = if cfg.is_null() {
        String::new()
    } else {
        CStr::from_ptr(cfg).to_string_lossy().into_owned()
    };
    if cfg == "fail" {
        let why = "ffi_test: told to fail by its cfg";
        ngx_http_resty_ffi_log(4, why.as_ptr().cast(), why.len() as c_int);
        return 3;
    }
    if cfg == "poll_in_init" {
        let got = ngx_http_lua_ffi_task_poll(tq);
        INIT_POLL.store(if got.is_null() { 1 } else { 2 }, Ordering::SeqCst);
    }
    let threads = cfg
        .strip_prefix("threads=")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let held = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..threads {
        let (tq, held) = (Ptr(tq), held.clone());
        if thread::Builder::new()
            .name("ffi_test".into())
            .spawn(move || serve(tq, held))
            .is_err()
        {
            return 1;
        }
    }
    0
}
