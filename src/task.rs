//! A task: one call from a Lua coroutine to a runtime, and its life cycle.
//!
//! ```text
//!   worker: post ──► QUEUED ──runtime: task_poll──► TAKEN ──runtime: respond──► DONE ──► worker
//! ```
//!
//! The shared part (`state`, the request bytes, the response) crosses threads; the
//! [`WaiterSide`] is touched only by the nginx worker thread (it says whether a coroutine
//! still waits for the answer and which request the task belongs to).

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::lua_sema::Sema;

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const DONE: u8 = 2;

/// What the runtime answered. `data` was malloc()ed by the runtime; the module frees it.
struct Response {
    rc: c_int,
    data: *mut c_char,
    len: usize,
}

/// Where the waiting coroutine is, from the worker's point of view.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Waiter {
    /// A coroutine waits on `sem`; the answer has not come back yet.
    Waiting,
    /// The answer came back and `sem` was posted; the coroutine has not read it yet.
    Posted,
    /// Nobody waits any more (timeout, aborted request); free the task when it comes back.
    Gone,
}

/// Worker-thread-only bookkeeping of a task.
pub struct WaiterSide {
    pub waiter: Waiter,
    pub sem: *mut Sema,
    /// The request's task list this task is linked in (null: none).
    pub owner: *mut crate::request_tasks::RequestTasks,
    pub prev: *mut Task,
    pub next: *mut Task,
}

/// One call in flight.
pub struct Task {
    state: AtomicU8,
    /// The request bytes followed by one NUL byte (runtimes may read it as a C string).
    request: Box<[u8]>,
    response: UnsafeCell<Response>,
    side: UnsafeCell<WaiterSide>,
}

/// A task pointer that may cross threads (the queues carry these).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TaskPtr(NonNull<Task>);

// SAFETY: a TaskPtr is handed from one thread to the next through the queues, which
// synchronize; each phase of the task has one owner at a time (see the module doc).
unsafe impl Send for TaskPtr {}

/// The runtime answered a task that was not waiting for an answer.
#[derive(Debug)]
pub struct NotTaken;

impl TaskPtr {
    /// A new QUEUED task holding a copy of `req`.
    pub fn new(req: &[u8], sem: *mut Sema) -> TaskPtr {
        let mut request = Vec::with_capacity(req.len() + 1);
        request.extend_from_slice(req);
        request.push(0);
        let task = Box::new(Task {
            state: AtomicU8::new(QUEUED),
            request: request.into_boxed_slice(),
            response: UnsafeCell::new(Response {
                rc: 0,
                data: ptr::null_mut(),
                len: 0,
            }),
            side: UnsafeCell::new(WaiterSide {
                waiter: Waiter::Waiting,
                sem,
                owner: ptr::null_mut(),
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
            }),
        });
        TaskPtr(NonNull::from(Box::leak(task)))
    }

    /// Rebuilds a pointer that the module handed out (to a runtime or to Lua).
    pub fn from_raw(p: *mut Task) -> Option<TaskPtr> {
        NonNull::new(p).map(TaskPtr)
    }

    pub fn as_raw(self) -> *mut Task {
        self.0.as_ptr()
    }

    fn task(&self) -> &Task {
        // SAFETY: a TaskPtr points at a live task until `free`, which consumes it.
        unsafe { self.0.as_ref() }
    }

    /// Runtime side: the queue handed this task to a runtime.
    pub fn mark_taken(self) {
        self.task().state.store(TAKEN, Ordering::Relaxed);
    }

    /// Runtime side: the request bytes (without the trailing NUL) and a pointer to them.
    pub fn request(self) -> (*const c_char, usize) {
        let req = &self.task().request;
        (req.as_ptr().cast(), req.len() - 1)
    }

    /// Runtime side: stores the answer. Fails (and stores nothing) if the task was not
    /// taken by a runtime or was answered already.
    pub fn respond(self, rc: c_int, data: *mut c_char, len: usize) -> Result<(), NotTaken> {
        let task = self.task();
        // Claim the right to write the response first; a second respond loses here.
        match task
            .state
            .compare_exchange(TAKEN, DONE, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: the CAS above made this thread the only writer; the worker reads
                // the response only after it pops the task from the done-queue.
                unsafe { *task.response.get() = Response { rc, data, len } };
                Ok(())
            }
            Err(_) => Err(NotTaken),
        }
    }

    /// Worker side: the answer (rc, data, len); valid until [`TaskPtr::free`].
    pub fn response(self) -> (c_int, *const c_char, usize) {
        // SAFETY: called by the worker after the task came back through the done-queue,
        // which orders the runtime's write before this read.
        let r = unsafe { &*self.task().response.get() };
        (r.rc, r.data, r.len)
    }

    /// Worker side: the waiter bookkeeping.
    ///
    /// # Safety
    /// Worker thread only, and no other reference to the side may be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn side(&self) -> &mut WaiterSide {
        &mut *self.task().side.get()
    }

    /// Frees the task and the response the runtime handed over.
    ///
    /// # Safety
    /// The task must not be in any queue and no runtime may still hold it.
    pub unsafe fn free(self) {
        let task = Box::from_raw(self.0.as_ptr());
        let data = (*task.response.get()).data;
        if !data.is_null() {
            libc::free(data.cast());
        }
        drop(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_copied_and_nul_terminated() {
        let t = TaskPtr::new(b"a\0b", ptr::null_mut());
        let (p, len) = t.request();
        assert_eq!(len, 3);
        // SAFETY: the buffer has len + 1 bytes.
        let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len + 1) };
        assert_eq!(bytes, b"a\0b\0");
        unsafe { t.free() };
    }

    #[test]
    fn respond_only_once_and_only_after_take() {
        let t = TaskPtr::new(b"x", ptr::null_mut());
        assert!(t.respond(0, ptr::null_mut(), 0).is_err());
        t.mark_taken();
        assert!(t.respond(7, ptr::null_mut(), 0).is_ok());
        assert!(t.respond(8, ptr::null_mut(), 0).is_err());
        assert_eq!(t.response().0, 7);
        unsafe { t.free() };
    }

    #[test]
    fn free_releases_malloced_response() {
        let t = TaskPtr::new(b"", ptr::null_mut());
        t.mark_taken();
        // SAFETY: plain malloc; the task frees it.
        let data = unsafe { libc::malloc(4) }.cast::<c_char>();
        t.respond(0, data, 4).unwrap();
        unsafe { t.free() };
    }
}
