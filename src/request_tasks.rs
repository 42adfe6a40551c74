//! The tasks in flight of one nginx request, so that none outlives its waiter unnoticed.
//!
//! A coroutine can vanish while its task is in flight (client abort, `ngx.exit`, a killed
//! light thread, the end of a timer). The list lives in the request's pool with a pool
//! cleanup: when the request is freed, each task still listed is told its waiter is gone.
//! One list per request (found through `r->ctx`), so a loop of calls allocates nothing here.

use std::ffi::c_void;
use std::ptr;

use nginx_sys::{ngx_http_request_t, ngx_pool_cleanup_add};

use crate::task::TaskPtr;

pub struct RequestTasks {
    head: Option<TaskPtr>,
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
    list.write(RequestTasks { head: None });
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
    side.prev = None;
    side.next = (*list).head;
    if let Some(next) = (*list).head {
        next.side().prev = Some(task);
    }
    (*list).head = Some(task);
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
    side.prev = None;
    side.next = None;
    match prev {
        Some(p) => p.side().next = next,
        None => (*list).head = next,
    }
    if let Some(n) = next {
        n.side().prev = prev;
    }
}

/// Pool cleanup: the request is being freed, so no coroutine of it waits any more.
unsafe extern "C" fn on_request_freed(data: *mut c_void) {
    let list: *mut RequestTasks = data.cast();
    crate::panic_guard::guard((), || {
        // SAFETY: data is the list this cleanup was registered with; worker thread.
        unsafe {
            while let Some(task) = (*list).head {
                unlink(task);
                crate::worker::waiter_gone(task);
            }
        }
    })
}
