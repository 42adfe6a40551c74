//! Tasks through the module's ABI, with handles as u64 (what JS holds as BigInt).

use std::ffi::{c_char, c_int, c_void};

use crate::module_api;

/// Up to this many tasks are taken from the queue in one poll.
pub const BATCH: usize = 64;

fn handle(task: u64) -> *mut c_void {
    task as usize as *mut c_void
}

/// The request bytes of a task not answered yet; None for a handle the module refuses.
///
/// # Safety
/// The bytes are the module's and stay valid only until the task is answered: copy them
/// before anything can answer it.
pub unsafe fn request<'a>(task: u64) -> Option<&'a [u8]> {
    let api = module_api::get().ok()?;
    let mut len: c_int = 0;
    // SAFETY: the module validates the handle and returns NULL for a stale one.
    let p = unsafe { (api.get_req)(handle(task), &mut len) };
    if p.is_null() {
        return None;
    }
    let len = usize::try_from(len).unwrap_or(0);
    // SAFETY: the module's request copy of `len` bytes, alive until the answer (see above).
    Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// Answers with a `malloc()`ed response the module takes over (and frees), or NULL.
///
/// # Safety
/// `rsp` is NULL or malloc()ed with `len` bytes and a NUL after them, owned by the caller.
pub unsafe fn respond_malloced(task: u64, rc: c_int, rsp: *mut c_char, len: usize) {
    let Ok(api) = module_api::get() else {
        // SAFETY: nobody else took the buffer.
        unsafe { libc::free(rsp.cast()) };
        return;
    };
    let Ok(len) = c_int::try_from(len) else {
        // SAFETY: as above; the answer cannot be given with a length over 2 GiB.
        unsafe { libc::free(rsp.cast()) };
        let why = format!("response of {len} bytes is over the 2 GiB limit");
        return respond_bytes(task, 1, Some(why.as_bytes()));
    };
    // SAFETY: the module owns `rsp` from here; it refuses (and frees) a stale answer.
    unsafe { (api.respond)(handle(task), rc, rsp, len) };
}

/// A malloc()ed copy of `bytes` followed by a NUL byte.
pub fn malloc_copy(bytes: &[u8]) -> Option<*mut c_char> {
    // SAFETY: plain allocation, checked for NULL.
    let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` has room for len + 1 bytes and does not overlap `bytes`.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
    }
    Some(p.cast())
}

/// Answers with a copy of `bytes` (None: no response body).
pub fn respond_bytes(task: u64, rc: c_int, bytes: Option<&[u8]>) {
    let (rsp, len) = match bytes {
        None => (std::ptr::null_mut(), 0),
        Some(b) => match malloc_copy(b) {
            Some(p) => (p, b.len()),
            None => (std::ptr::null_mut(), 0),
        },
    };
    // SAFETY: `rsp` is NULL or our own malloc()ed copy with a trailing NUL.
    unsafe { respond_malloced(task, rc, rsp, len) };
}

pub fn respond_error(task: u64, msg: &str) {
    respond_bytes(task, 1, Some(msg.as_bytes()));
}

/// Blocks until tasks are queued and appends up to BATCH of them to `out`; appends nothing
/// once the runtime is unloaded and its queue drained.
pub fn poll_batch(tq: u64, max: usize, out: &mut Vec<u64>) {
    let Ok(api) = module_api::get() else { return };
    let max = max.clamp(1, 1024);
    match api.task_poll_batch {
        Some(poll_batch) => {
            let mut tasks = [std::ptr::null_mut::<c_void>(); 1024];
            // SAFETY: `tq` is the queue given to libffi_init; `tasks` has room for `max`.
            let n = unsafe { poll_batch(handle(tq), tasks.as_mut_ptr(), max as c_int) };
            let n = usize::try_from(n).unwrap_or(0).min(max);
            out.extend(tasks[..n].iter().map(|t| *t as usize as u64));
        }
        None => {
            // SAFETY: as above.
            let t = unsafe { (api.task_poll)(handle(tq)) };
            if !t.is_null() {
                out.push(t as usize as u64);
            }
        }
    }
}
