//! Tasks through the module's ABI, with handles as u64 (what JS holds as BigInt).

use std::ffi::{c_char, c_int, c_void};

use resty_ffi_loader_host::require_module;
use resty_ffi_sdk::raw;

/// Up to this many tasks are taken from the queue in one poll.
pub const BATCH: usize = 64;

fn handle(task: u64) -> *mut c_void {
    task as usize as *mut c_void
}

/// The module's task functions, or why this process has none.
pub fn module_abi() -> Result<&'static raw::ModuleAbi, String> {
    require_module("libffi_nodejs.so")
}

/// The request bytes of a task not answered yet; None for a handle the module refuses.
///
/// # Safety
/// The bytes are the module's and stay valid only until the task is answered: copy them
/// before anything can answer it.
pub unsafe fn request<'a>(task: u64) -> Option<&'a [u8]> {
    let abi = raw::module_abi().ok()?;
    // SAFETY: per this function's contract; the module refuses (NULL) a stale handle.
    unsafe { abi.request(handle(task)) }
}

/// Answers with a `malloc()`ed response the module takes over (and frees), or NULL.
///
/// # Safety
/// `rsp` is NULL or malloc()ed with `len` bytes and a NUL after them, owned by the caller.
pub unsafe fn respond_malloced(task: u64, rc: c_int, rsp: *mut c_char, len: usize) {
    let Ok(abi) = raw::module_abi() else {
        // SAFETY: nobody else took the buffer.
        unsafe { libc::free(rsp.cast()) };
        return;
    };
    let Ok(len) = c_int::try_from(len) else {
        // SAFETY: as above; the answer cannot be given with a length over 2 GiB.
        unsafe { libc::free(rsp.cast()) };
        let why = format!("response of {len} bytes is over the 2 GiB limit");
        return respond_bytes(task, resty_ffi_sdk::RC_ERROR, Some(why.as_bytes()));
    };
    // SAFETY: the module owns `rsp` from here; it refuses (and frees) a stale answer.
    unsafe { abi.respond_malloced(handle(task), rc, rsp, len) };
}

/// Answers with a copy of `bytes` (None: no response body). Without memory for the copy, the
/// answer has no body and rc 0 becomes `RC_NO_MEMORY`.
pub fn respond_bytes(task: u64, rc: c_int, bytes: Option<&[u8]>) {
    let Ok(abi) = raw::module_abi() else { return };
    let len = bytes.map_or(0, <[u8]>::len);
    if c_int::try_from(len).is_err() {
        let why = format!("response of {len} bytes is over the 2 GiB limit");
        return respond_bytes(task, resty_ffi_sdk::RC_ERROR, Some(why.as_bytes()));
    }
    // SAFETY: a task not answered yet, answered here once; the module copies the bytes
    // (or frees the copy it is handed, with a module older than respond_copy).
    unsafe { abi.respond_copied(handle(task), rc, bytes, resty_ffi_sdk::RC_NO_MEMORY) };
}

/// Answers a failure of the loader's own: `rc` is one of the reserved `RC_*` codes.
pub fn respond_error(task: u64, rc: c_int, msg: &str) {
    respond_bytes(task, rc, Some(msg.as_bytes()));
}

/// Blocks until tasks are queued and appends up to `max` (at most 1024) of them to `out`;
/// appends nothing once the runtime is unloaded and its queue drained.
pub fn poll_batch(tq: u64, max: usize, out: &mut Vec<u64>) {
    let Ok(abi) = raw::module_abi() else { return };
    let mut tasks = [std::ptr::null_mut::<c_void>(); 1024];
    let tasks = &mut tasks[..max.clamp(1, 1024)];
    // SAFETY: `tq` is the queue given to libffi_init.
    let n = unsafe { abi.poll_batch(handle(tq), tasks) };
    out.extend(tasks[..n].iter().map(|t| *t as usize as u64));
}

/// Whether the caller gave up on a task (or the handle is no longer current).
pub fn cancelled(task: u64) -> bool {
    let Ok(abi) = raw::module_abi() else { return false };
    // SAFETY: the module only compares the handle (stale ones read as cancelled).
    unsafe { abi.task_cancelled(handle(task)) }
}

/// When the caller stops waiting: CLOCK_MONOTONIC in milliseconds (the clock of Node's
/// `process.hrtime()` and `performance.now()`, from another origin); None without a timeout.
pub fn deadline_ms(task: u64) -> Option<f64> {
    let abi = raw::module_abi().ok()?;
    // SAFETY: as in `cancelled`.
    let ns = unsafe { abi.task_deadline_ns(handle(task)) }?;
    Some(ns as f64 / 1e6)
}

/// Blocks until tasks this runtime holds are cancelled and appends up to `max` (at most
/// 1024) of them to `out`; appends nothing once the runtime is unloaded.
pub fn cancel_poll(tq: u64, max: usize, out: &mut Vec<u64>) {
    let Ok(abi) = raw::module_abi() else { return };
    let mut tasks = [std::ptr::null_mut::<c_void>(); 1024];
    let tasks = &mut tasks[..max.clamp(1, 1024)];
    // SAFETY: `tq` is the queue given to libffi_init.
    let n = unsafe { abi.cancel_poll(handle(tq), tasks) };
    out.extend(tasks[..n].iter().map(|t| *t as usize as u64));
}

/// Whether the task's caller reads its answer as a stream (false outside nginx or with a
/// module older than streams).
pub fn streaming(task: u64) -> bool {
    // SAFETY: the module checks the handle (a stale one says 0).
    unsafe { raw::stream_abi().streaming(handle(task)) }
}

/// One chunk of a stream, without waiting: 0 sent, 1 the window is full (nothing sent),
/// `RC_CANCELLED` the caller stopped reading, -1 not a stream task in the runtime's hands.
/// Called on Node's loop thread, where the task's answer is given too: never after it.
pub fn try_send(task: u64, chunk: &[u8]) -> c_int {
    // SAFETY: the module checks the handle; the loop that calls this answers the task after
    // its last send, on the same thread.
    match unsafe { raw::stream_abi().try_send(handle(task), chunk) } {
        raw::Sent::Sent => 0,
        raw::Sent::WindowFull => 1,
        raw::Sent::Cancelled => raw::RC_CANCELLED,
        raw::Sent::NotStream => -1,
    }
}
