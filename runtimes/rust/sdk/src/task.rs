//! Tasks and the task queue, safe.

use std::ffi::{c_int, c_void};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::body::Body;
use crate::raw;
use crate::stream::{ChunkSender, Gate, SendError};

/// The largest [`Body`] answered by copy rather than handed over (`Task::respond_body`): a
/// copy of a few KiB costs less than a `malloc` here and a `free` on the worker's thread.
const COPY_AT_MOST: usize = 16 * 1024;

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

impl TaskQueue {
    /// Blocks until calls this runtime holds (polled, not answered) are given up on by
    /// their callers, then returns the ids of up to `max` of them (compare with
    /// [`Task::id`]); empty once the runtime is unloaded (then stop), and at once with a
    /// module that does not announce cancellations. Call it from one thread of your own,
    /// started in `libffi_init`: the module keeps announcements only from the first call on.
    /// The async server does this itself.
    pub fn poll_cancelled(&self, max: usize) -> Vec<TaskId> {
        let Ok(abi) = raw::module_abi() else {
            return Vec::new();
        };
        let mut tasks = vec![std::ptr::null_mut(); max.max(1)];
        // SAFETY: tq is the module's queue (see from_raw).
        let n = unsafe { abi.cancel_poll(self.0, &mut tasks) };
        tasks.truncate(n);
        tasks.into_iter().map(|t| TaskId(t as usize)).collect()
    }
}

/// Identifies a call while it is in flight: equal ids are the same call. The module never
/// gives two calls in flight the same id (and rarely reuses one at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskId(usize);

/// What a handler may know of its call besides the request: when its caller stops waiting
/// and whether it already gave up. Cheap to clone; valid while the call is in flight (once
/// it is answered, [`is_cancelled`](CallInfo::is_cancelled) says true).
#[derive(Clone, Debug)]
pub struct CallInfo {
    id: TaskId,
    deadline: Option<Instant>,
}

impl CallInfo {
    /// The call's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// When the caller stops waiting (the Lua call's timeout); None without one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the caller gave up on the call (timeout, client abort, ngx.exit, the end of
    /// a timer, a killed light thread, the worker exiting): stop working for nobody. One
    /// atomic load; always false with a module older than cancellation.
    pub fn is_cancelled(&self) -> bool {
        task_cancelled(self.id.0 as *mut c_void)
    }
}

fn task_cancelled(task: *mut c_void) -> bool {
    let Ok(abi) = raw::module_abi() else {
        return false;
    };
    // SAFETY: a handle from a poll; the module checks it (a stale one reads as cancelled).
    unsafe { abi.task_cancelled(task) }
}

/// CLOCK_MONOTONIC now, in nanoseconds (what `Instant` reads on Linux, and the module's
/// deadlines are in).
fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec.saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec)
}

/// The `Instant` of a CLOCK_MONOTONIC time in ns, by its distance from now.
pub(crate) fn instant_of_monotonic(at_ns: i64, now_ns: i64, now: Instant) -> Instant {
    let ahead = at_ns.saturating_sub(now_ns);
    let by = Duration::from_nanos(ahead.unsigned_abs());
    let at = if ahead >= 0 {
        now.checked_add(by)
    } else {
        now.checked_sub(by)
    };
    at.unwrap_or(now)
}

/// One call from Lua. Answer it with [`Task::respond`]; a task dropped unanswered answers
/// by itself with [`crate::RC_DROPPED`], so no coroutine waits forever.
#[derive(Debug)]
pub struct Task {
    raw: *mut c_void,
    answered: bool,
    /// Made by the first stream send or sender; closed before the answer.
    gate: OnceLock<Arc<Gate>>,
}

// SAFETY: a task may be answered from any thread, once.
unsafe impl Send for Task {}

/// What a handler returns: `Ok(bytes)` is `true, bytes` in Lua, `Err((rc, bytes))` is
/// `false, rc, bytes` (rc must be non-zero).
pub type Reply = Result<Vec<u8>, (i32, Vec<u8>)>;

impl Task {
    fn polled(raw: *mut c_void) -> Task {
        Task {
            raw,
            answered: false,
            gate: OnceLock::new(),
        }
    }

    fn gate(&self) -> &Arc<Gate> {
        self.gate.get_or_init(|| Gate::new(self.raw))
    }

    /// Whether the caller reads this call as a stream (`rt:stream_x(req)` in Lua).
    pub fn is_stream(&self) -> bool {
        self.chunk_sender().is_stream()
    }

    /// Sends a chunk of a stream call's answer, waiting while the caller's window is full;
    /// answer the task to end the stream. See [`ChunkSender::send`].
    pub fn stream_send(&self, chunk: &[u8]) -> Result<(), SendError> {
        self.chunk_sender().send(chunk)
    }

    /// A sender for this call's chunks, to hand to other threads or futures; its sends
    /// fail with [`SendError::Answered`] once the task is answered.
    pub fn chunk_sender(&self) -> ChunkSender {
        ChunkSender::new(self.gate().clone())
    }

    /// The request bytes (binary-safe).
    pub fn request(&self) -> &[u8] {
        let Ok(abi) = raw::module_abi() else {
            return &[];
        };
        // SAFETY: the task is polled and unanswered while self exists.
        unsafe { abi.request(self.raw) }.unwrap_or_default()
    }

    /// The call's id (see [`TaskQueue::poll_cancelled`]).
    pub fn id(&self) -> TaskId {
        TaskId(self.raw as usize)
    }

    /// Whether the caller gave up on this call: see [`CallInfo::is_cancelled`].
    pub fn is_cancelled(&self) -> bool {
        task_cancelled(self.raw)
    }

    /// When the caller stops waiting (the Lua call's timeout) as an `Instant`; None for a
    /// call without a timeout (or a module older than deadlines).
    pub fn deadline(&self) -> Option<Instant> {
        let abi = raw::module_abi().ok()?;
        // SAFETY: the task is polled and unanswered while self exists.
        let at = unsafe { abi.task_deadline_ns(self.raw) }?;
        // Instant is CLOCK_MONOTONIC: one pair of readings, taken once, converts every
        // deadline (two clock reads per call otherwise, for handlers that never look).
        static BASE: std::sync::OnceLock<(i64, Instant)> = std::sync::OnceLock::new();
        let (base_ns, base) = *BASE.get_or_init(|| (monotonic_ns(), Instant::now()));
        Some(instant_of_monotonic(at, base_ns, base))
    }

    /// The call's id, deadline and cancellation, to hand to a handler.
    pub fn call_info(&self) -> CallInfo {
        CallInfo {
            id: self.id(),
            deadline: self.deadline(),
        }
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

    /// Answers the task with `body` (`true, body` in Lua), handing its memory to the module
    /// as it is: no copy. A body over 2 GiB is cut there. A small body (up to
    /// `COPY_AT_MOST` bytes) is copied by the module instead, into the task's reused buffer,
    /// and its memory freed here: cheaper than the worker freeing it on its thread.
    pub fn respond_body(mut self, body: Body) {
        if !self.begin_answer() {
            return;
        }
        // (No module: the body is freed on return.)
        let Ok(abi) = raw::module_abi() else {
            return;
        };
        if body.len() <= COPY_AT_MOST && abi.copies_answers() {
            // SAFETY: answered exactly once, guarded by the flag.
            return unsafe { abi.respond_copied(self.raw, 0, Some(body.as_slice()), crate::RC_NO_MEMORY) };
        }
        let (data, len) = body.into_raw();
        if data.is_null() {
            // Nothing was written: "" (a NULL answer would be nil).
            // SAFETY: answered exactly once, guarded by the flag.
            return unsafe { abi.respond(self.raw, 0, Some(b""), crate::RC_NO_MEMORY) };
        }
        let len = c_int::try_from(len).unwrap_or(c_int::MAX);
        // SAFETY: answered exactly once; `data` is malloc()ed and NUL-terminated (a zero
        // length reads as the empty C string), and the module frees it.
        unsafe { abi.respond_malloced(self.raw, 0, data, len) };
    }

    /// Marks the task answered, once: false if it was already. Every send returns before the
    /// answer (the stream ABI's rule).
    fn begin_answer(&mut self) -> bool {
        if self.answered {
            return false;
        }
        self.answered = true;
        if let Some(gate) = self.gate.get() {
            gate.close();
        }
        true
    }

    fn answer(&mut self, rc: c_int, data: &[u8]) {
        if !self.begin_answer() {
            return;
        }
        // A Task exists only after a poll, so the module is there.
        if let Ok(abi) = raw::module_abi() {
            // SAFETY: answered exactly once, guarded by the flag.
            unsafe { abi.respond_copied(self.raw, rc, Some(data), crate::RC_NO_MEMORY) };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_ns_is_the_clock_of_instant() {
        let (a, ns, b) = (Instant::now(), monotonic_ns(), Instant::now());
        let at = instant_of_monotonic(ns + 2_000_000_000, ns, a);
        let d = at.duration_since(b);
        assert!(
            d > Duration::from_millis(1990) && d <= Duration::from_secs(2),
            "{d:?}"
        );
        let past = instant_of_monotonic(ns - 1_000_000, ns, a);
        assert_eq!(a.duration_since(past), Duration::from_millis(1));
        assert_eq!(
            instant_of_monotonic(i64::MAX, 0, a),
            a.checked_add(Duration::from_nanos(i64::MAX as u64)).unwrap_or(a)
        );
    }

    #[test]
    fn outside_nginx_nothing_is_cancelled_and_nothing_announced() {
        // SAFETY: never polled outside nginx (module_abi fails first).
        let q = unsafe { TaskQueue::from_raw(std::ptr::null_mut()) };
        assert!(q.poll_cancelled(8).is_empty());
        let info = CallInfo {
            id: TaskId(0x1000),
            deadline: None,
        };
        assert!(!info.is_cancelled());
        assert_eq!(info.deadline(), None);
    }
}
