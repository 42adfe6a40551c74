//! Tasks and the task queue, safe.

use std::ffi::{c_int, c_void};

use crate::raw;

/// The queue a runtime polls (`tq` of `libffi_init`). Cheap to copy and share.
#[derive(Clone, Copy, Debug)]
pub struct TaskQueue(*mut c_void);

// SAFETY: the module's task queue is thread-safe by the runtime ABI.
unsafe impl Send for TaskQueue {}
// SAFETY: as above.
unsafe impl Sync for TaskQueue {}

impl TaskQueue {
    /// Wraps the `tq` pointer that `libffi_init` received.
    ///
    /// # Safety
    /// `tq` must be that pointer; do not poll again after `poll` returned `None`.
    pub unsafe fn from_raw(tq: *mut c_void) -> Self {
        TaskQueue(tq)
    }

    /// Blocks until a call comes; `None` once the runtime is unloaded (then stop polling).
    pub fn poll(&self) -> Option<Task> {
        // Outside nginx there is no queue to poll: as if unloaded.
        let abi = raw::module_abi().ok()?;
        // SAFETY: tq is the module's queue (see from_raw).
        unsafe { abi.poll(self.0) }.map(Task::polled)
    }
}

impl TaskQueue {
    /// Blocks until at least one call comes, then takes up to `max` at once (one lock for
    /// all); empty once the runtime is unloaded (then stop polling).
    pub fn poll_batch(&self, max: usize) -> Vec<Task> {
        let Ok(abi) = raw::module_abi() else {
            return Vec::new();
        };
        let mut tasks = vec![std::ptr::null_mut(); max.max(1)];
        // SAFETY: tq is the module's queue (see from_raw).
        let n = unsafe { abi.poll_batch(self.0, &mut tasks) };
        tasks.truncate(n);
        tasks.into_iter().map(Task::polled).collect()
    }
}

/// One call from Lua. Answer it with [`Task::respond`]; a task dropped unanswered answers
/// by itself with [`crate::RC_DROPPED`], so no coroutine waits forever.
#[derive(Debug)]
pub struct Task {
    raw: *mut c_void,
    answered: bool,
}

// SAFETY: a task may be answered from any thread, once.
unsafe impl Send for Task {}

/// What a handler returns: `Ok(bytes)` is `true, bytes` in Lua, `Err((rc, bytes))` is
/// `false, rc, bytes` (rc must be non-zero).
pub type Reply = Result<Vec<u8>, (i32, Vec<u8>)>;

impl Task {
    fn polled(raw: *mut c_void) -> Task {
        Task { raw, answered: false }
    }

    /// The request bytes (binary-safe).
    pub fn request(&self) -> &[u8] {
        let Ok(abi) = raw::module_abi() else {
            return &[];
        };
        // SAFETY: the task is polled and unanswered while self exists.
        unsafe { abi.request(self.raw) }.unwrap_or_default()
    }

    /// Answers the task: `Ok(bytes)` or `Err((rc, bytes))`.
    pub fn respond(mut self, reply: Reply) {
        let (rc, data) = match reply {
            Ok(data) => (0, data),
            Err((0, data)) => (crate::RC_ERROR, data),
            Err((rc, data)) => (rc, data),
        };
        self.answer(rc, &data);
    }

    fn answer(&mut self, rc: c_int, data: &[u8]) {
        if self.answered {
            return;
        }
        self.answered = true;
        // A Task exists only after a poll, so the module is there.
        if let Ok(abi) = raw::module_abi() {
            // SAFETY: answered exactly once, guarded by the flag.
            unsafe { abi.respond(self.raw, rc, Some(data), crate::RC_NO_MEMORY) };
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if !self.answered {
            log::warn!("task dropped without an answer");
            self.answer(crate::RC_DROPPED, b"task dropped without an answer");
        }
    }
}
