//! The tasks in flight of one nginx request, so that none outlives its waiter unnoticed.
//!
//! A coroutine can vanish while its task is in flight (client abort, `ngx.exit`, a killed
//! light thread, the end of a timer). The list lives in the request's pool with a pool
//! cleanup: when the request is freed, each task still listed is told its waiter is gone.
//! One list per request (found through `r->ctx`), so a loop of calls allocates nothing here.

use std::ffi::c_void;
use std::ptr;

use nginx_sys::{ngx_http_request_t, ngx_pool_cleanup_add};

use crate::task::{Task, TaskPtr};

pub struct RequestTasks {
    head: *mut Task,
}

/// The request's list, created in its pool on first use.
///
/// # Safety
/// `r` must be a live request; worker thread only.
pub unsafe fn for_request(r: *mut ngx_http_request_t) -> Option<*mut RequestTasks> {
    let idx = crate::module_ctx_index();
    let slot = (*r).ctx.add(idx);
    if !(*slot).is_null() {
        return Some((*slot).cast());
    }
    let cln = ngx_pool_cleanup_add((*r).pool, std::mem::size_of::<RequestTasks>());
    if cln.is_null() {
        return None;
    }
    let list: *mut RequestTasks = (*cln).data.cast();
    list.write(RequestTasks {
        head: ptr::null_mut(),
    });
    (*cln).handler = Some(on_request_freed);
    *slot = list.cast();
    Some(list)
}

/// Links a task into the list.
///
/// # Safety
/// Worker thread only; `list` from [`for_request`], `task` not linked anywhere.
pub unsafe fn link(list: *mut RequestTasks, task: TaskPtr) {
    let side = task.side();
    side.owner = list;
    side.prev = ptr::null_mut();
    side.next = (*list).head;
    if let Some(next) = TaskPtr::from_raw((*list).head) {
        next.side().prev = task.as_raw();
    }
    (*list).head = task.as_raw();
}

/// Unlinks a task from whatever list holds it (no-op if none).
///
/// # Safety
/// Worker thread only.
pub unsafe fn unlink(task: TaskPtr) {
    let side = task.side();
    let list = side.owner;
    if list.is_null() {
        return;
    }
    let (prev, next) = (side.prev, side.next);
    side.owner = ptr::null_mut();
    side.prev = ptr::null_mut();
    side.next = ptr::null_mut();
    match TaskPtr::from_raw(prev) {
        Some(p) => p.side().next = next,
        None => (*list).head = next,
    }
    if let Some(n) = TaskPtr::from_raw(next) {
        n.side().prev = prev;
    }
}

/// Pool cleanup: the request is being freed, so no coroutine of it waits any more.
unsafe extern "C" fn on_request_freed(data: *mut c_void) {
    let list: *mut RequestTasks = data.cast();
    crate::panic_guard::guard((), || {
        // SAFETY: data is the list this cleanup was registered with; worker thread.
        unsafe {
            while let Some(task) = TaskPtr::from_raw((*list).head) {
                unlink(task);
                crate::worker::waiter_gone(task);
            }
        }
    })
}
