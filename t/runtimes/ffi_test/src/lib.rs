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
//! | `copy <rc> <bytes>`     | rc, the bytes, by `respond_copy`; the buffer is overwritten right after |
//! | `copy_null`             | rc 0, a NULL answer by `respond_copy`                    |
//! | `copy_fill <n> <byte>`  | rc 0, n copies of the byte, by `respond_copy`            |
//! | `copy_twice <bytes>`    | answers by `respond_copy`, again, then by `respond` (both dropped) |
//! | `copy_bad_len`          | `respond_copy` with a length no buffer has (the module answers -4) |
//! | `copy_race <threads>`   | threads answer at once, by `respond_copy` (`c<i>`) or `respond` (`m<i>`), every one of them: one answer wins |
//! | `hold <bytes>`          | answered only after task_poll returned NULL (unload)     |
//! | `fill <n> <byte>`       | rc 0, n copies of the byte                               |
//! | `inits`                 | rc 0, how many times libffi_init ran in this process     |
//!
//! | `init_poll`             | rc 0, what task_poll returned inside libffi_init         |
//! | `spin <us> <bytes>`     | rc 0, the bytes, after a busy wait of us on the poll thread |
//! | `wait_cancel <ms>`      | on a thread of its own, waits up to ms for the caller to give up (`task_cancelled`), then answers `cancelled` or `not cancelled` |
//! | `wait_cancel_mark <dict> <key> <ms>` | as `wait_cancel`, and on the cancellation adds 1 to the shared dictionary's key (init 0) before it answers: a mark that outlives the worker |
//! | `wait_announce <ms>`    | waits up to ms for cancel_poll to announce the task (then the listener answers `cancelled`), else answers `not cancelled` |
//! | `deadline`              | rc 0, ms left until the call's deadline, or `none`       |
//! | `handled`               | rc 0, how many tasks this runtime was handed (this one included) |
//! | `listeners_done`        | rc 0, how many cancel listeners (`cancel_listeners=N`) left after their unload and said so on stderr |
//! | `dict_get <dict> <key>` | the shared dictionary's value: `nil`, `boolean true`, `number 3.5`, `string <bytes>`, with ` flags=N`; or `error <message>` |
//! | `dict_store <dict> <op> <key> <type> <exptime_ms> <flags> <value>` | `stored` (` forcible`), `declined <why>` or `error <why>` |
//! | `dict_incr <dict> <key> <delta> [init]` | `value N`, `declined <why>`, `error <why>` |
//! | `dict_ttl <dict> <key>` | ms left, 0 never expires, -1 not there |
//! | `dict_incr_many <dict> <key> <n> <threads>` | threads each add 1 n times (on threads of their own); `done` |
//! | `dict_hammer <dict> <threads>` | rc 0 `started` at once; threads store, incr and look the zone up in a loop until an operation fails with `worker exiting`, then each writes `ffi_test: dict_hammer stopped: worker exiting` to stderr (nginx's error.log) |
//! | `abi_garbage`           | rc 0, what the newer ABI functions answer for handles and arguments that are wrong (NULL, small integers, stale, far off, NULL/empty names, NULL buffers), one `name=value` per call |
//! | `stream <n> <size>`     | (a stream call) n chunks `<i>:` + filler to size, then `end` |
//! | `stream_fail <n>`       | n chunks, then rc 7 `went wrong` |
//! | `stream_total <bytes> <chunk>` | bytes in chunks, then `waited=N` (sends that found the window full) |
//! | `stream_until_cancel <size>` | chunks every ms until the caller is gone (counted) |
//! | `stream_until_cancel_mark <dict> <key> <size>` | as `stream_until_cancel`, and once a send sees the caller gone adds 1 to the shared dictionary's key (init 0): a mark that outlives the worker |
//! | `stream_slow <ms>`      | `first`, then `second` after ms (a cancelled send is counted) |
//! | `stream_big <n>`        | (a stream call) one chunk of n `z` bytes, then `end` (a cancelled send answers `cancelled`) |
//! | `stream_senders <threads> <n>` | (a stream call) threads send n chunks `<t>:<i>` each, all at once on the one task; once all returned, `end` |
//! | `stream_empty <n>`      | (a stream call) n empty sends (len 0, half with a NULL buffer), then `end` |
//! | `stream_then_send`      | (a stream call) `one`, the answer `end`, then a send on the answered task (kept for `late_send`) |
//! | `send_misuse`           | rc 0, `send=N try_send=M`: both on a plain call |
//! | `late_send`             | rc 0, what the send after `stream_then_send`'s answer returned |
//! | `streams_cancelled`     | how many streams saw their caller go |
//! | `cancels`               | rc 0, `noticed=N announced=M`: wait_cancel tasks that saw their cancellation, wait_announce tasks cancel_poll announced |
//!
//! cfg: `fail` makes libffi_init log an error and return 3; `threads=N` starts N poll threads
//! (default 1); `poll_in_init` calls task_poll on nginx's thread inside libffi_init (a bug
//! the module must survive: it returns NULL at once instead of blocking the worker);
//! `cancel_listener` also starts a thread that waits in cancel_poll and counts announcements
//! (`cancel_listeners=N`: N such threads, with one poll thread).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

extern "C" {
    fn ngx_http_lua_ffi_task_poll(tq: *mut c_void) -> *mut c_void;
    fn ngx_http_lua_ffi_get_req(task: *mut c_void, len: *mut c_int) -> *mut c_char;
    fn ngx_http_lua_ffi_respond(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
    fn ngx_http_resty_ffi_respond_copy(task: *mut c_void, rc: c_int, rsp: *const c_char, len: usize);
    fn ngx_http_resty_ffi_log(level: c_int, msg: *const c_char, len: c_int);
    fn ngx_http_resty_ffi_task_cancelled(task: *mut c_void) -> c_int;
    fn ngx_http_resty_ffi_task_deadline(task: *mut c_void) -> i64;
    fn ngx_http_resty_ffi_cancel_poll(tq: *mut c_void, tasks: *mut *mut c_void, max: c_int) -> c_int;
    fn ngx_http_resty_ffi_task_streaming(task: *mut c_void) -> c_int;
    fn ngx_http_resty_ffi_task_send(task: *mut c_void, buf: *const c_char, len: usize) -> c_int;
    fn ngx_http_resty_ffi_task_try_send(task: *mut c_void, buf: *const c_char, len: usize) -> c_int;
    fn ngx_http_resty_ffi_shdict(name: *const c_char, len: usize, err: *mut *const c_char) -> *mut c_void;
    fn ngx_http_resty_ffi_shdict_get(
        dict: *mut c_void,
        key: *const c_char,
        key_len: usize,
        typ: *mut c_int,
        s: *mut *mut c_char,
        s_len: *mut usize,
        num: *mut f64,
        flags: *mut c_int,
        err: *mut *const c_char,
    ) -> c_int;
    fn ngx_http_resty_ffi_shdict_store(
        dict: *mut c_void,
        op: c_int,
        key: *const c_char,
        key_len: usize,
        typ: c_int,
        s: *const c_char,
        s_len: usize,
        num: f64,
        exptime_ms: std::ffi::c_long,
        flags: c_int,
        forcible: *mut c_int,
        err: *mut *const c_char,
    ) -> c_int;
    fn ngx_http_resty_ffi_shdict_incr(
        dict: *mut c_void,
        key: *const c_char,
        key_len: usize,
        delta: f64,
        has_init: c_int,
        init: f64,
        init_ttl_ms: std::ffi::c_long,
        value: *mut f64,
        forcible: *mut c_int,
        err: *mut *const c_char,
    ) -> c_int;
    fn ngx_http_resty_ffi_shdict_ttl(dict: *mut c_void, key: *const c_char, key_len: usize) -> std::ffi::c_long;
}

fn err_text(err: *const c_char) -> String {
    if err.is_null() {
        return "?".to_string();
    }
    // SAFETY: the module's messages are static C strings.
    unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned()
}

/// A zone by name, or the module's message.
fn dict(name: &[u8]) -> Result<Ptr, String> {
    let mut err: *const c_char = std::ptr::null();
    // SAFETY: a name of name.len() bytes; err is ours.
    let d = unsafe { ngx_http_resty_ffi_shdict(name.as_ptr().cast(), name.len(), &mut err) };
    if d.is_null() {
        Err(err_text(err))
    } else {
        Ok(Ptr(d))
    }
}

/// `dict_get <dict> <key>`: "nil", "boolean true", "number 3.5", "string <bytes>", each with
/// " flags=N"; or "error <message>".
fn dict_get(rest: &[u8]) -> Vec<u8> {
    let (name, key) = split(rest);
    let d = match dict(name) {
        Ok(d) => d,
        Err(e) => return format!("error {e}").into_bytes(),
    };
    let (mut typ, mut s, mut len, mut num, mut flags) = (0, std::ptr::null_mut(), 0usize, 0.0, 0);
    let mut err: *const c_char = std::ptr::null();
    // SAFETY: out-pointers are ours; the key is ours.
    let rc = unsafe {
        ngx_http_resty_ffi_shdict_get(
            d.0, key.as_ptr().cast(), key.len(), &mut typ, &mut s, &mut len, &mut num, &mut flags, &mut err,
        )
    };
    if rc != 0 {
        return format!("error {}", err_text(err)).into_bytes();
    }
    let mut out = match typ {
        0 => b"nil".to_vec(),
        1 => format!("boolean {}", num != 0.0).into_bytes(),
        3 => format!("number {num}").into_bytes(),
        _ => {
            let mut v = b"string ".to_vec();
            // SAFETY: a malloc()ed copy of len bytes, ours to free.
            unsafe {
                v.extend_from_slice(std::slice::from_raw_parts(s.cast::<u8>(), len));
                libc::free(s.cast());
            }
            v
        }
    };
    out.extend_from_slice(format!(" flags={flags}").as_bytes());
    out
}

/// `dict_store <dict> <op> <key> <type> <exptime_ms> <flags> <value>` (type nil|boolean|
/// number|string): "stored" (+ " forcible"), "declined <message>" or "error <message>".
fn dict_store(rest: &[u8]) -> Vec<u8> {
    let (name, rest) = split(rest);
    let (op, rest) = split(rest);
    let (key, rest) = split(rest);
    let (typ, rest) = split(rest);
    let (exptime, rest) = split(rest);
    let (flags, value) = split(rest);
    let d = match dict(name) {
        Ok(d) => d,
        Err(e) => return format!("error {e}").into_bytes(),
    };
    let (typ, num) = match typ {
        b"nil" => (0, 0.0),
        b"boolean" => (1, if value == b"true" { 1.0 } else { 0.0 }),
        b"number" => (3, std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(0.0)),
        _ => (4, 0.0),
    };
    let (mut forcible, mut err) = (0, std::ptr::null());
    // SAFETY: every buffer is ours.
    let rc = unsafe {
        ngx_http_resty_ffi_shdict_store(
            d.0,
            num_i(op),
            key.as_ptr().cast(),
            key.len(),
            typ,
            value.as_ptr().cast(),
            value.len(),
            num,
            num_i(exptime) as std::ffi::c_long,
            num_i(flags),
            &mut forcible,
            &mut err,
        )
    };
    match rc {
        0 if forcible != 0 => b"stored forcible".to_vec(),
        0 => b"stored".to_vec(),
        1 => format!("declined {}", err_text(err)).into_bytes(),
        _ => format!("error {}", err_text(err)).into_bytes(),
    }
}

fn num_i(b: &[u8]) -> c_int {
    std::str::from_utf8(b).ok().and_then(|v| v.parse().ok()).unwrap_or(-1)
}

/// `dict_incr <dict> <key> <delta> [init]`: "value N", "declined <message>", "error <message>".
fn dict_incr(rest: &[u8]) -> Vec<u8> {
    let (name, rest) = split(rest);
    let (key, rest) = split(rest);
    let (delta, init) = split(rest);
    let d = match dict(name) {
        Ok(d) => d,
        Err(e) => return format!("error {e}").into_bytes(),
    };
    let parse = |b: &[u8]| std::str::from_utf8(b).ok().and_then(|v| v.parse::<f64>().ok());
    let init = parse(init);
    let (mut value, mut forcible, mut err) = (0.0, 0, std::ptr::null());
    // SAFETY: every buffer is ours.
    let rc = unsafe {
        ngx_http_resty_ffi_shdict_incr(
            d.0,
            key.as_ptr().cast(),
            key.len(),
            parse(delta).unwrap_or(0.0),
            c_int::from(init.is_some()),
            init.unwrap_or(0.0),
            0,
            &mut value,
            &mut forcible,
            &mut err,
        )
    };
    match rc {
        0 => format!("value {value}").into_bytes(),
        1 => format!("declined {}", err_text(err)).into_bytes(),
        _ => format!("error {}", err_text(err)).into_bytes(),
    }
}

/// `dict_incr_many <dict> <key> <n> <threads>`: each of `threads` threads adds 1 to key n
/// times (init 0); answers "done" or the first error.
fn dict_incr_many(rest: &[u8]) -> Vec<u8> {
    let (name, rest) = split(rest);
    let (key, rest) = split(rest);
    let (n, threads) = split(rest);
    let d = match dict(name) {
        Ok(d) => d,
        Err(e) => return format!("error {e}").into_bytes(),
    };
    let (n, threads) = (num(n), num(threads).max(1));
    let key = Arc::new(key.to_vec());
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let key = key.clone();
            thread::spawn(move || {
                let d = d; // the whole Ptr (Send), not its raw field
                for _ in 0..n {
                    let (mut value, mut err) = (0.0, std::ptr::null());
                    // SAFETY: every buffer is ours.
                    let rc = unsafe {
                        ngx_http_resty_ffi_shdict_incr(
                            d.0,
                            key.as_ptr().cast(),
                            key.len(),
                            1.0,
                            1,
                            0.0,
                            0,
                            &mut value,
                            std::ptr::null_mut(),
                            &mut err,
                        )
                    };
                    if rc != 0 {
                        return Some(err_text(err));
                    }
                }
                None
            })
        })
        .collect();
    for w in workers {
        if let Ok(Some(e)) = w.join() {
            return format!("error {e}").into_bytes();
        }
    }
    b"done".to_vec()
}

/// `dict_hammer <dict> <threads>`: threads that change the zone's tree (stores of varying
/// sizes, deletes, incr) and look it up by name, without pause, until the module says the
/// worker is exiting: what a worker's exit must not cut in half.
fn dict_hammer(rest: &[u8]) -> Vec<u8> {
    let (name, threads) = split(rest);
    let (name, threads) = (name.to_vec(), num(threads).max(1));
    for t in 0..threads {
        let name = name.clone();
        thread::spawn(move || {
            let value = vec![b'v'; 300];
            for i in 0usize.. {
                let d = match dict(&name) {
                    Ok(d) => d,
                    Err(e) => {
                        say_to_stderr(&format!("ffi_test: dict_hammer stopped: {e}"));
                        return;
                    }
                };
                let key = format!("h{t}:{}", i % 500);
                let (mut forcible, mut err) = (0, std::ptr::null());
                let len = if i % 7 == 0 { 0 } else { i % value.len() };
                // SAFETY: every buffer is ours.
                let rc = unsafe {
                    ngx_http_resty_ffi_shdict_store(
                        d.0,
                        0,
                        key.as_ptr().cast(),
                        key.len(),
                        if len == 0 { 0 } else { 4 },
                        value.as_ptr().cast(),
                        len,
                        0.0,
                        0,
                        0,
                        &mut forcible,
                        &mut err,
                    )
                };
                if rc < 0 && err_text(err) == "worker exiting" {
                    say_to_stderr("ffi_test: dict_hammer stopped: worker exiting");
                    return;
                }
                let counted = dict_incr(&[&name[..], b" hammered 1 0"].concat());
                if counted.starts_with(b"error worker exiting") {
                    say_to_stderr("ffi_test: dict_hammer stopped: worker exiting");
                    return;
                }
            }
        });
    }
    b"started".to_vec()
}

/// The previous `abi_garbage` task's handle: stale by the time the next one runs.
static LAST_GARBAGE_TASK: AtomicUsize = AtomicUsize::new(0);

/// `abi_garbage`: the newer ABI functions with wrong handles and arguments; none may crash,
/// each must refuse. Answers `name=value ...`.
fn abi_garbage(task: Ptr, tq: Ptr) -> Vec<u8> {
    let stale = LAST_GARBAGE_TASK.swap(task.0 as usize, Ordering::SeqCst);
    let mut handles: Vec<(&str, *mut c_void)> = vec![
        ("null", std::ptr::null_mut()),
        ("one", 1 as *mut c_void),
        ("max", usize::MAX as *mut c_void),
        ("far", (task.0 as usize ^ (1 << 45)) as *mut c_void),
        ("stack", &stale as *const usize as *mut c_void),
    ];
    if stale != 0 {
        handles.push(("stale", stale as *mut c_void));
    }
    let mut out = Vec::new();
    for (name, h) in handles {
        // SAFETY: the module must accept any value as a handle.
        let r = unsafe {
            (
                ngx_http_resty_ffi_task_cancelled(h),
                ngx_http_resty_ffi_task_deadline(h),
                ngx_http_resty_ffi_task_streaming(h),
                ngx_http_resty_ffi_task_send(h, b"x".as_ptr().cast(), 1),
                ngx_http_resty_ffi_task_try_send(h, std::ptr::null(), 0),
                ngx_http_lua_ffi_get_req(h, std::ptr::null_mut()).is_null(),
            )
        };
        out.push(format!("{name}={},{},{},{},{},{}", r.0, r.1, r.2, r.3, r.4, r.5));
        // A stray answer: dropped (and counted), never delivered.
        // SAFETY: as above; a malloc()ed answer the module frees.
        unsafe {
            let p = libc::malloc(4).cast::<c_char>();
            std::ptr::copy_nonoverlapping(b"bad\0".as_ptr().cast(), p, 4);
            ngx_http_lua_ffi_respond(h, 0, p, 0);
            ngx_http_resty_ffi_respond_copy(h, 0, b"bad".as_ptr().cast(), 3);
            ngx_http_resty_ffi_respond_copy(h, 0, std::ptr::null(), usize::MAX);
        }
    }
    // This task's own: a plain call, so send is refused; a NULL buffer with a length too.
    // SAFETY: the task is ours until answered.
    out.push(format!("own_null_buf={}", unsafe { ngx_http_resty_ffi_task_try_send(task.0, std::ptr::null(), 5) }));
    let mut tasks = [std::ptr::null_mut::<c_void>(); 2];
    // SAFETY: bad arguments the module must refuse without blocking.
    let cp = unsafe {
        (
            ngx_http_resty_ffi_cancel_poll(std::ptr::null_mut(), tasks.as_mut_ptr(), 2),
            ngx_http_resty_ffi_cancel_poll(tq.0, std::ptr::null_mut(), 2),
            ngx_http_resty_ffi_cancel_poll(tq.0, tasks.as_mut_ptr(), 0),
            ngx_http_resty_ffi_cancel_poll(tq.0, tasks.as_mut_ptr(), -1),
        )
    };
    out.push(format!("cancel_poll={},{},{},{}", cp.0, cp.1, cp.2, cp.3));
    let mut err: *const c_char = std::ptr::null();
    // SAFETY: a NULL name with a length, an empty name, a NULL err.
    let zones = unsafe {
        (
            ngx_http_resty_ffi_shdict(std::ptr::null(), 5, &mut err).is_null(),
            ngx_http_resty_ffi_shdict(b"x".as_ptr().cast(), 0, std::ptr::null_mut()).is_null(),
        )
    };
    out.push(format!("zones={},{} err={}", zones.0, zones.1, err_text(err)));
    // SAFETY: a NULL dict: refused.
    let nulls = unsafe {
        (
            ngx_http_resty_ffi_shdict_ttl(std::ptr::null_mut(), b"k".as_ptr().cast(), 1),
            ngx_http_resty_ffi_shdict_store(
                std::ptr::null_mut(), 0, b"k".as_ptr().cast(), 1, 4, std::ptr::null(), 0, 0.0, 0, 0,
                std::ptr::null_mut(), std::ptr::null_mut(),
            ),
        )
    };
    out.push(format!("null_dict={},{}", nulls.0, nulls.1));
    out.join(" ").into_bytes()
}

/// `dict_ttl <dict> <key>`: ms left (0: never expires), -1: not there.
fn dict_ttl(rest: &[u8]) -> Vec<u8> {
    let (name, key) = split(rest);
    match dict(name) {
        // SAFETY: the key is ours.
        Ok(d) => unsafe { ngx_http_resty_ffi_shdict_ttl(d.0, key.as_ptr().cast(), key.len()) }
            .to_string()
            .into_bytes(),
        Err(e) => format!("error {e}").into_bytes(),
    }
}

/// `wait_cancel` tasks that saw their cancellation, and tasks cancel_poll announced.
static NOTICED: AtomicUsize = AtomicUsize::new(0);
static ANNOUNCED: AtomicUsize = AtomicUsize::new(0);

fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Streams whose sender saw its caller give up (`stream_until_cancel`).
static STREAMS_CANCELLED: AtomicUsize = AtomicUsize::new(0);
/// What a send after the stream's answer returned (`stream_then_send`), and whether it ran.
static LATE_SEND: Mutex<Option<c_int>> = Mutex::new(None);

fn send(task: Ptr, chunk: &[u8]) -> c_int {
    // SAFETY: the task is ours until answered; the chunk is ours.
    unsafe { ngx_http_resty_ffi_task_send(task.0, chunk.as_ptr().cast(), chunk.len()) }
}

/// The i-th chunk of `stream`: "<i>:" then filler bytes up to size.
fn chunk_of(i: usize, size: usize) -> Vec<u8> {
    let mut c = format!("{i}:").into_bytes();
    while c.len() < size {
        c.push(b'a' + (c.len() % 26) as u8);
    }
    c.truncate(size.max(1));
    c
}

/// The stream commands, each on a thread of its own (a stream may wait for its reader).
fn stream_command(task: Ptr, cmd: &[u8], rest: &[u8]) {
    // SAFETY: the task is ours until answered.
    if unsafe { ngx_http_resty_ffi_task_streaming(task.0) } != 1 {
        return respond(task, 22, b"not a stream call");
    }
    match cmd {
        // `stream <n> <size>`: n chunks chunk_of(i, size), then the answer "end".
        b"stream" => {
            let (n, size) = split(rest);
            for i in 0..num(n) {
                if send(task, &chunk_of(i, num(size))) != 0 {
                    return respond(task, 0, b"cancelled");
                }
            }
            respond(task, 0, b"end");
        }
        // `stream_fail <n>`: n chunks, then rc 7 "went wrong".
        b"stream_fail" => {
            for i in 0..num(rest) {
                send(task, &chunk_of(i, 8));
            }
            respond(task, 7, b"went wrong");
        }
        // `stream_total <bytes> <chunk>`: bytes in chunks; the answer "waited=N": how many
        // sends found the window full (try_send said 1) and had to wait.
        b"stream_total" => {
            let (total, size) = split(rest);
            let (total, size) = (num(total), num(size).max(1));
            let chunk = vec![b'x'; size];
            let (mut sent, mut waited) = (0usize, 0usize);
            while sent < total {
                let n = size.min(total - sent);
                // SAFETY: as in send.
                let rc = unsafe { ngx_http_resty_ffi_task_try_send(task.0, chunk.as_ptr().cast(), n) };
                let rc = if rc == 1 {
                    waited += 1;
                    send(task, &chunk[..n])
                } else {
                    rc
                };
                if rc != 0 {
                    return respond(task, 0, b"cancelled");
                }
                sent += n;
            }
            respond(task, 0, format!("waited={waited}").as_bytes());
        }
        // `stream_until_cancel <size>`: chunks until the caller is gone; counts that.
        b"stream_until_cancel" => {
            let chunk = chunk_of(0, num(rest));
            loop {
                if send(task, &chunk) != 0 {
                    STREAMS_CANCELLED.fetch_add(1, Ordering::SeqCst);
                    return respond(task, 0, b"cancelled");
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
        // `stream_until_cancel_mark <dict> <key> <size>`: as stream_until_cancel, and marks
        // the cancellation in a shared dictionary (which outlives the worker).
        b"stream_until_cancel_mark" => {
            let (name, rest) = split(rest);
            let (key, size) = split(rest);
            let chunk = chunk_of(0, num(size));
            loop {
                if send(task, &chunk) != 0 {
                    STREAMS_CANCELLED.fetch_add(1, Ordering::SeqCst);
                    let marked = dict_incr(&[name, b" ", key, b" 1 0"].concat());
                    return respond(task, 0, &marked);
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
        // `stream_senders <threads> <n>`: many threads send on one task at once.
        b"stream_senders" => {
            let (threads, n) = split(rest);
            let (threads, n) = (num(threads), num(n));
            let senders: Vec<_> = (0..threads)
                .map(|t| {
                    thread::spawn(move || {
                        for i in 0..n {
                            if send(task, format!("{t}:{i}").as_bytes()) != 0 {
                                return;
                            }
                        }
                    })
                })
                .collect();
            for s in senders {
                let _ = s.join();
            }
            respond(task, 0, b"end");
        }
        // `stream_empty <n>`: n sends of nothing, which no window bounds.
        b"stream_empty" => {
            for i in 0..num(rest) {
                let buf: *const c_char = if i % 2 == 0 { std::ptr::null() } else { b"".as_ptr().cast() };
                // SAFETY: a zero-length chunk (NULL allowed).
                if unsafe { ngx_http_resty_ffi_task_send(task.0, buf, 0) } != 0 {
                    return respond(task, 0, b"cancelled");
                }
            }
            respond(task, 0, b"end");
        }
        // `stream_big <n>`: one chunk of n bytes (larger than a Lua string can be), then "end".
        b"stream_big" => {
            let chunk = vec![b'z'; num(rest)];
            if send(task, &chunk) != 0 {
                return respond(task, 0, b"cancelled");
            }
            drop(chunk);
            respond(task, 0, b"end");
        }
        // `stream_then_send`: a chunk, the answer, then a send on the answered task (a
        // misbehaving runtime): the module must refuse it (-1) and deliver nothing more.
        b"stream_then_send" => {
            send(task, b"one");
            respond(task, 0, b"end");
            let late = send(task, b"late");
            *LATE_SEND.lock().unwrap_or_else(|e| e.into_inner()) = Some(late);
        }
        // `stream_slow <ms>`: one chunk, then another after ms.
        _ => {
            send(task, b"first");
            thread::sleep(Duration::from_millis(num(rest) as u64));
            let rc = send(task, b"second");
            if rc != 0 {
                STREAMS_CANCELLED.fetch_add(1, Ordering::SeqCst);
            }
            respond(task, 0, b"");
        }
    }
}

/// `wait_announce` tasks not answered yet: whoever takes one out answers it (once).
static AWAITING_ANNOUNCE: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn claim(task: Ptr) -> bool {
    let mut waiting = AWAITING_ANNOUNCE.lock().unwrap_or_else(|e| e.into_inner());
    match waiting.iter().position(|t| *t == task.0 as usize) {
        Some(i) => {
            waiting.swap_remove(i);
            true
        }
        None => false,
    }
}

/// One line on stderr (nginx's error.log) in one write: `eprintln!` writes a line in pieces,
/// and the worker's own log lines (debug level in the tests) land between them.
fn say_to_stderr(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Cancel listeners whose cancel_poll returned 0 (the unload): that began to say so, and
/// that said so (a test that sees the second count knows their lines are in error.log).
static LISTENERS_LEAVING: AtomicUsize = AtomicUsize::new(0);
static LISTENERS_DONE: AtomicUsize = AtomicUsize::new(0);

fn listen_for_cancels(tq: Ptr) {
    let mut tasks = [std::ptr::null_mut::<c_void>(); 16];
    loop {
        // SAFETY: tq is the queue given to libffi_init; room for 16 handles.
        let n = unsafe { ngx_http_resty_ffi_cancel_poll(tq.0, tasks.as_mut_ptr(), 16) };
        if n <= 0 {
            break;
        }
        for task in &tasks[..n as usize] {
            let task = Ptr(*task);
            if claim(task) {
                ANNOUNCED.fetch_add(1, Ordering::SeqCst);
                respond(task, 0, b"cancelled");
            }
        }
    }
    let n = LISTENERS_LEAVING.fetch_add(1, Ordering::SeqCst) + 1;
    // Said where the test can read it after the unload: nginx's error.log.
    say_to_stderr(&format!("ffi_test: cancel listener done ({n} so far)"));
    LISTENERS_DONE.fetch_add(1, Ordering::SeqCst);
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

/// Answers with `respond_copy` (None: NULL), then spoils the buffer: the module must have
/// copied it.
fn respond_copied(task: Ptr, rc: c_int, bytes: Option<&[u8]>) {
    let mut buf = bytes.map(<[u8]>::to_vec);
    let (p, len) = buf.as_ref().map_or((std::ptr::null(), 0), |b| (b.as_ptr().cast::<c_char>(), b.len()));
    // SAFETY: `len` bytes at `p` (or NULL), ours again once the call returns.
    unsafe { ngx_http_resty_ffi_respond_copy(task.0, rc, p, len) };
    if let Some(b) = buf.as_mut() {
        b.fill(b'X');
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

/// What `late_sum` read, for `late_log`.
static LATE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// CRC-32 (IEEE, as ngx.crc32_long), bit by bit: test payloads only.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A byte of every 4 KiB and the last one, summed: touches every page of a large request.
fn sparse_sum(bytes: &[u8]) -> u64 {
    let last = bytes.last().map_or(0, |&b| u64::from(b));
    bytes.iter().step_by(4096).map(|&b| u64::from(b)).sum::<u64>() + last
}

/// Tasks handed to `handle` so far.
static HANDLED: AtomicUsize = AtomicUsize::new(0);

fn handle(task: Ptr, held: &Held, tq: Ptr) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
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
        // Busy for N µs on the poll thread, then answer: answers that come just before,
        // during and after the worker's spin for them.
        b"spin" => {
            let (us, payload) = split(rest);
            let until = std::time::Instant::now() + Duration::from_micros(num(us) as u64);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
            respond(task, 0, payload);
        }
        b"wait_cancel" => {
            let ms = num(rest) as u64;
            thread::spawn(move || {
                for _ in 0..ms {
                    // SAFETY: the task is ours until answered.
                    if unsafe { ngx_http_resty_ffi_task_cancelled(task.0) } == 1 {
                        NOTICED.fetch_add(1, Ordering::SeqCst);
                        return respond(task, 0, b"cancelled");
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                respond(task, 0, b"not cancelled");
            });
        }
        b"wait_cancel_mark" => {
            let (name, rest) = split(rest);
            let (key, ms) = split(rest);
            let mark = [name, b" ", key, b" 1 0"].concat();
            let ms = num(ms) as u64;
            thread::spawn(move || {
                for _ in 0..ms {
                    // SAFETY: the task is ours until answered.
                    if unsafe { ngx_http_resty_ffi_task_cancelled(task.0) } == 1 {
                        NOTICED.fetch_add(1, Ordering::SeqCst);
                        let marked = dict_incr(&mark);
                        return respond(task, 0, &marked);
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                respond(task, 0, b"not cancelled");
            });
        }
        b"wait_announce" => {
            let ms = num(rest) as u64;
            AWAITING_ANNOUNCE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(task.0 as usize);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms));
                if claim(task) {
                    respond(task, 0, b"not cancelled");
                }
            });
        }
        b"deadline" => {
            // SAFETY: the task is ours until answered.
            let at = unsafe { ngx_http_resty_ffi_task_deadline(task.0) };
            let left = if at == 0 {
                "none".to_string()
            } else {
                ((at - monotonic_ns()) / 1_000_000).to_string()
            };
            respond(task, 0, left.as_bytes());
        }
        b"stream"
        | b"stream_fail"
        | b"stream_total"
        | b"stream_until_cancel"
        | b"stream_until_cancel_mark"
        | b"stream_slow"
        | b"stream_then_send"
        | b"stream_big"
        | b"stream_senders"
        | b"stream_empty" => {
            let (cmd, rest) = (cmd.to_vec(), rest.to_vec());
            thread::spawn(move || stream_command(task, &cmd, &rest));
        }
        // `send_misuse`: send and try_send on a plain call (not a stream) must be refused.
        b"send_misuse" => {
            // SAFETY: the task is ours until answered; the chunk is ours.
            let tried = unsafe { ngx_http_resty_ffi_task_try_send(task.0, b"x".as_ptr().cast(), 1) };
            let sent = send(task, b"x");
            respond(task, 0, format!("send={sent} try_send={tried}").as_bytes());
        }
        b"late_send" => {
            let late = *LATE_SEND.lock().unwrap_or_else(|e| e.into_inner());
            respond(task, 0, format!("{late:?}").as_bytes());
        }
        b"streams_cancelled" => respond(
            task,
            0,
            STREAMS_CANCELLED.load(Ordering::SeqCst).to_string().as_bytes(),
        ),
        b"dict_get" => respond(task, 0, &dict_get(rest)),
        b"dict_store" => respond(task, 0, &dict_store(rest)),
        b"dict_incr" => respond(task, 0, &dict_incr(rest)),
        b"dict_ttl" => respond(task, 0, &dict_ttl(rest)),
        b"dict_hammer" => respond(task, 0, &dict_hammer(rest)),
        b"abi_garbage" => respond(task, 0, &abi_garbage(task, tq)),
        b"dict_incr_many" => {
            let rest = rest.to_vec();
            thread::spawn(move || respond(task, 0, &dict_incr_many(&rest)));
        }
        b"handled" => respond(task, 0, HANDLED.load(Ordering::SeqCst).to_string().as_bytes()),
        b"listeners_done" => respond(task, 0, LISTENERS_DONE.load(Ordering::SeqCst).to_string().as_bytes()),
        b"cancels" => respond(
            task,
            0,
            format!(
                "noticed={} announced={}",
                NOTICED.load(Ordering::SeqCst),
                ANNOUNCED.load(Ordering::SeqCst)
            )
            .as_bytes(),
        ),
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
        b"copy" => {
            let (rc, payload) = split(rest);
            respond_copied(task, num_i(rc), Some(payload));
        }
        b"copy_null" => respond_copied(task, 0, None),
        b"copy_fill" => {
            let (n, byte) = split(rest);
            respond_copied(task, 0, Some(&vec![byte.first().copied().unwrap_or(b'x'); num(n)]));
        }
        b"copy_twice" => {
            respond_copied(task, 0, Some(rest));
            respond_copied(task, 0, Some(b"second"));
            respond(task, 0, b"third");
        }
        b"copy_race" => {
            let n = num(split(rest).0).max(2);
            let go = Arc::new(std::sync::Barrier::new(n));
            let racers: Vec<_> = (0..n)
                .map(|i| {
                    let go = go.clone();
                    thread::spawn(move || {
                        go.wait();
                        if i % 2 == 0 {
                            respond_copied(task, 0, Some(format!("c{i}").as_bytes()));
                        } else {
                            respond(task, 0, format!("m{i}").as_bytes());
                        }
                    })
                })
                .collect();
            for r in racers {
                let _ = r.join();
            }
        }
        // SAFETY: a length no buffer has; the module must not read it.
        b"copy_bad_len" => unsafe { ngx_http_resty_ffi_respond_copy(task.0, 0, b"x".as_ptr().cast(), usize::MAX) },
        // Reads its request again after N ms (get_req's bytes stay valid until the answer,
        // however long after the caller gave up: a lent request), answers its size, CRC-32
        // and whether a NUL byte follows it, and keeps that line for `late_log`.
        b"late_sum" => {
            let ms = num(split(rest).0) as u64;
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(ms));
                let mut len: c_int = 0;
                // SAFETY: the task is ours until answered; get_req's bytes are `len` long and
                // NUL-terminated.
                let line = unsafe {
                    let p = ngx_http_lua_ffi_get_req(task.0, &mut len);
                    if p.is_null() {
                        "no request".to_string()
                    } else {
                        let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len as usize + 1);
                        format!(
                            "len={} crc={} nul={}",
                            len,
                            crc32(&bytes[..len as usize]),
                            u8::from(bytes[len as usize] == 0)
                        )
                    }
                };
                LATE.lock().unwrap_or_else(|e| e.into_inner()).push(line.clone());
                respond(task, 0, line.as_bytes());
            });
        }
        // Reads its request again and again (a byte of every 4 KiB page and the last one),
        // ignoring cancellation, for up to N ms, then answers how many reads found it intact:
        // a runtime still reading a lent request while its worker exits.
        b"reread" => {
            let ms = num(split(rest).0) as u64;
            let want = sparse_sum(&req);
            thread::spawn(move || {
                let until = std::time::Instant::now() + Duration::from_millis(ms);
                let mut intact = 0u64;
                while std::time::Instant::now() < until {
                    let mut len: c_int = 0;
                    // SAFETY: the task is ours until answered; get_req's bytes are `len` long.
                    let ok = unsafe {
                        let p = ngx_http_lua_ffi_get_req(task.0, &mut len);
                        !p.is_null()
                            && sparse_sum(std::slice::from_raw_parts(p.cast::<u8>(), len as usize))
                                == want
                    };
                    intact += u64::from(ok);
                    thread::yield_now();
                }
                respond(task, 0, intact.to_string().as_bytes());
            });
        }
        b"late_log" => {
            let lines = std::mem::take(&mut *LATE.lock().unwrap_or_else(|e| e.into_inner()));
            respond(task, 0, lines.join("\n").as_bytes())
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
        handle(Ptr(task), &held, tq);
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
    let listeners = match cfg.strip_prefix("cancel_listeners=") {
        Some(n) => n.parse().unwrap_or(1),
        None => usize::from(cfg == "cancel_listener"),
    };
    for _ in 0..listeners {
        let tq = Ptr(tq);
        if thread::Builder::new()
            .name("ffi_test_cancel".into())
            .spawn(move || listen_for_cancels(tq))
            .is_err()
        {
            return 1;
        }
    }
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
