//! A runtime's request queue: the worker pushes tasks, runtime threads poll them.
//!
//! Bounded by `max_queue` (tasks not yet taken). After `unload`, pollers still get every
//! task queued before it, then `None` forever.
//!
//! Tasks travel lock-free (a `SegQueue` and a counter); the lock only parks pollers. A poller
//! that finds the queue empty waits a little before it parks on the condvar, so a runtime
//! answering a stream of calls picks the next one up without a futex sleep and wake-up on
//! either side: it spins (watching an atomic) when it has a CPU of its own, and yields the
//! CPU instead when it shares one with the worker or the machine is busy (spinning would only
//! hold the CPU the worker needs to post).
//!
//! Cancellation: a task whose caller gave up before a runtime took it is never handed out;
//! the queue answers it "cancelled" itself. One a runtime holds is announced to the runtime's
//! threads that wait in `cancel_poll` (announcements are kept only once one has asked).

use std::cell::{Cell, RefCell};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use crossbeam_queue::SegQueue;
use crossbeam_utils::CachePadded;

use crate::spin::{GapWatch, Outcome, SpinPolicy};
use crate::task::TaskPtr;
use crate::telemetry::{self, RuntimeStats};
use crate::unpin::ThreadUsers;

/// How many times a poller looks again for a task that is counted but not in the queue yet
/// (see `poll_batch_inner`) before it takes the lock: a push takes nanoseconds, unless the
/// worker was descheduled in the middle of one.
const PUSH_IN_FLIGHT_LOOKS: u32 = 1000;

thread_local! {
    /// A poller thread's spin policy (see `spin`).
    static POLL_SPIN: RefCell<SpinPolicy> = const { RefCell::new(SpinPolicy::new()) };
    /// The same, for a poller that shares one CPU with the worker (see `yield_for_task`).
    static POLL_YIELD: RefCell<SpinPolicy> = const { RefCell::new(SpinPolicy::yielding()) };
}

/// Why a task could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    Full,
    Unloaded,
}

impl PushError {
    pub fn message(&self) -> &'static str {
        match self {
            PushError::Full => "queue full",
            PushError::Unloaded => "runtime unloaded",
        }
    }
}

/// What the lock guards: parking, unloading and cancellations (tasks travel lock-free).
struct State {
    unloaded: bool,
    /// Cancelled tasks a runtime holds, not yet handed to `cancel_poll`.
    cancelled: Vec<TaskPtr>,
    /// A runtime thread has called `cancel_poll`: cancellations are worth keeping.
    cancel_listening: bool,
}

/// What [`RequestQueue::push`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// Parked pollers must be woken with [`RequestQueue::wake_pollers`] and no such wake-up
    /// is pending yet: the worker defers it to the end of its event-loop iteration, so a
    /// burst of calls costs one wake-up.
    pub wake: bool,
    /// A poller takes the task without a wake-up: one spins, or none is parked (they are on
    /// their way back from answering, or busy: the worker checks the pick-up, see `spin`).
    pub taken_soon: bool,
}

/// The `tq` handed to `libffi_init`.
pub struct RequestQueue {
    /// Tasks not yet taken: lock-free, so the worker's push and a spinning poller's take
    /// never wait for each other (with a lock, the poller that saw the task arrive would
    /// contend for the lock the pushing worker still held, and sleep on it).
    tasks: SegQueue<TaskPtr>,
    state: Mutex<State>,
    ready: Condvar,
    /// `cancel_poll` waits on it.
    cancel_ready: Condvar,
    max_queue: usize,
    /// Tasks pushed and not yet taken (counted before the push and after the pop, so never
    /// below the queue's length): what spinning pollers watch, and the `max_queue` bound.
    queued: CachePadded<AtomicUsize>,
    /// `unloaded`, for readers without the lock.
    closing: AtomicBool,
    /// Pollers parked on the condvar, or about to park (raised under the lock before the
    /// last look at `queued`): only they need a wake-up.
    sleepers: AtomicUsize,
    /// A push asked for `wake_pollers` and it has not run yet (worker thread only).
    wake_pending: AtomicBool,
    /// The CPU the worker ran on at its last push, and the one the spinning poller runs on
    /// (-1: unknown): a waiter that shares its CPU with the side it waits for yields the CPU
    /// to it instead of spinning against it.
    worker_cpu: CachePadded<AtomicI32>,
    poller_cpu: CachePadded<AtomicI32>,
    /// Pollers spinning for a task right now (0 or 1, see `spin`): it takes a new task at once.
    spinning: CachePadded<AtomicUsize>,
    /// Pollers that took tasks and have not come back to poll yet: one of them takes the
    /// next task when it is done (soon, when its tasks are quick).
    busy: CachePadded<AtomicUsize>,
    /// For an `unpin` runtime: the threads that may run its code (see `unpin`).
    users: Option<ThreadUsers>,
    /// The runtime's numbers in this worker (written by the worker thread only).
    pub stats: RuntimeStats,
}

impl RequestQueue {
    pub fn new(max_queue: usize, unpin: bool) -> Self {
        Self {
            tasks: SegQueue::new(),
            state: Mutex::new(State {
                unloaded: false,
                cancelled: Vec::new(),
                cancel_listening: false,
            }),
            ready: Condvar::new(),
            cancel_ready: Condvar::new(),
            max_queue: max_queue.max(1),
            queued: CachePadded::new(AtomicUsize::new(0)),
            closing: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            wake_pending: AtomicBool::new(false),
            worker_cpu: CachePadded::new(AtomicI32::new(-1)),
            poller_cpu: CachePadded::new(AtomicI32::new(-1)),
            spinning: CachePadded::new(AtomicUsize::new(0)),
            busy: CachePadded::new(AtomicUsize::new(0)),
            users: unpin.then(ThreadUsers::default),
            stats: RuntimeStats::default(),
        }
    }

    /// The threads that may run an `unpin` runtime's code; None for a pinned runtime.
    pub fn thread_users(&self) -> Option<&ThreadUsers> {
        self.users.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover the data if it ever did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Worker side: queues a task (see [`Pushed`]). Worker thread only: pushes, `unload`
    /// and `wake_pollers` never race each other.
    pub fn push(&self, task: TaskPtr) -> Result<Pushed, PushError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(PushError::Unloaded);
        }
        // Counted first (SeqCst: ordered before the look at `sleepers` below; a poller raises
        // `sleepers` before its last look at `queued`, so one of the two sees the other).
        let queued = self.queued.fetch_add(1, Ordering::SeqCst) + 1;
        if queued > self.max_queue {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(PushError::Full);
        }
        self.tasks.push(task);
        store_if_changed(&self.worker_cpu, current_cpu());
        // A spinning poller takes a task within microseconds: wake sleepers only for more.
        let spinners = self.spinning.load(Ordering::SeqCst);
        let sleepers = self.sleepers.load(Ordering::SeqCst);
        let wake = sleepers > 0 && queued > spinners && !self.wake_pending.load(Ordering::Relaxed);
        if wake {
            self.wake_pending.store(true, Ordering::Relaxed);
        }
        Ok(Pushed {
            wake,
            taken_soon: spinners > 0 || sleepers == 0 || self.busy.load(Ordering::Acquire) > 0,
        })
    }

    /// Wakes as many parked pollers as there are queued tasks that no spinning poller takes.
    /// (A spinner that gives up looks at the queue before it parks, so a task left to it is
    /// never stranded.)
    pub fn wake_pollers(&self) {
        self.wake_pending.store(false, Ordering::Relaxed);
        let n = {
            // Under the lock: a poller between raising `sleepers` and its wait holds it, so
            // it is waiting (and gets the notification) by the time we have it.
            let _st = self.lock();
            let spinners = self.spinning.load(Ordering::SeqCst);
            let queued = self.queued.load(Ordering::SeqCst);
            queued.saturating_sub(spinners).min(self.sleepers.load(Ordering::SeqCst))
        };
        // Notify after unlocking: the woken pollers do not block on our lock.
        for _ in 0..n {
            self.ready.notify_one();
        }
    }

    /// Runtime side: blocks until a task is there; `None` once unloaded and drained.
    pub fn poll(&self) -> Option<TaskPtr> {
        let mut got = None;
        self.poll_batch(1, |t| got = Some(t));
        got
    }

    /// Runtime side: blocks until at least one task is there, then hands over up to `max`
    /// of them under one lock; 0 once unloaded and drained.
    pub fn poll_batch(&self, max: usize, each: impl FnMut(TaskPtr)) -> usize {
        thread_local! {
            /// The queue this thread took tasks from last and has not polled again since.
            static BUSY_ON: Cell<*const RequestQueue> = const { Cell::new(std::ptr::null()) };
        }
        let owed = BUSY_ON.with(|b| b.replace(std::ptr::null()));
        if !owed.is_null() {
            // SAFETY: queues are never freed (unloaded ones are retired for good).
            unsafe { (*owed).busy.fetch_sub(1, Ordering::AcqRel) };
        }
        let n = self.poll_batch_inner(max, each);
        if n > 0 {
            self.busy.fetch_add(1, Ordering::AcqRel);
            BUSY_ON.with(|b| b.set(self as *const RequestQueue));
        }
        n
    }

    fn poll_batch_inner(&self, max: usize, mut each: impl FnMut(TaskPtr)) -> usize {
        let max = max.max(1);
        if let Some(users) = &self.users {
            users.note_current_thread();
        }
        let n = self.take_some(max, &mut each);
        if n > 0 {
            return n;
        }
        let start = Instant::now();
        let yielding = self.waits_by_yielding();
        let policy = if yielding { &POLL_YIELD } else { &POLL_SPIN };
        if !self.drained_for_good() {
            if yielding {
                self.yield_for_task(start);
            } else {
                self.spin(start);
            }
        }
        let mut parked = false;
        let mut in_flight_looks = 0u32;
        loop {
            let n = self.take_some(max, &mut each);
            if n > 0 {
                if parked {
                    let now = Instant::now();
                    policy.with(|p| p.borrow_mut().record(Outcome::Late(now - start), now));
                }
                return n;
            }
            if self.drained_for_good() {
                return 0;
            }
            if self.queued.load(Ordering::Acquire) != 0 && in_flight_looks < PUSH_IN_FLIGHT_LOOKS {
                // Counted but not in the queue yet: the worker counts a task before it
                // pushes it, and is between the two (or another poller between taking one
                // and counting it off). That takes nanoseconds; the lock and a raised
                // `sleepers` would make the push wake a poller for nothing.
                in_flight_looks += 1;
                spin_loop();
                continue;
            }
            let st = self.lock();
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            // The last look, after `sleepers` went up (see `push`); the unload sets `closing`
            // under the lock, so it is seen here or notifies after our wait began.
            if self.queued.load(Ordering::SeqCst) == 0 && !self.closing.load(Ordering::Acquire) {
                parked = true;
                drop(self.ready.wait(st).unwrap_or_else(|e| e.into_inner()));
            } else {
                drop(st);
                // A push that counted its task may not have put it in yet: let it finish.
                spin_loop();
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Unloaded, and every task queued before the unload handed out (pushes come from the
    /// worker thread, as the unload does, so none is still on its way).
    fn drained_for_good(&self) -> bool {
        self.closing.load(Ordering::Acquire) && self.queued.load(Ordering::Acquire) == 0
    }

    /// Hands out up to `max` tasks; a task whose caller gave up meanwhile is answered
    /// "cancelled" here instead (the runtime never sees it), so it does not count.
    fn take_some(&self, max: usize, each: &mut impl FnMut(TaskPtr)) -> usize {
        let mut n = 0;
        let mut now = None;
        while n < max {
            let Some(task) = self.tasks.pop() else { break };
            self.queued.fetch_sub(1, Ordering::SeqCst);
            let stamp = *now.get_or_insert_with(|| {
                if telemetry::enabled() {
                    telemetry::monotonic_ns()
                } else {
                    0
                }
            });
            task.mark_taken(stamp);
            if task.is_cancelled() {
                answer_cancelled(task);
                continue;
            }
            each(task);
            n += 1;
        }
        n
    }

    /// Worker side: the caller of `task`, which a runtime holds, gave up on it.
    pub fn announce_cancelled(&self, task: TaskPtr) {
        {
            let mut st = self.lock();
            if !st.cancel_listening || st.unloaded {
                return;
            }
            // Answered ones are dropped here now and then, so the list stays as short as
            // the number of calls the runtime holds.
            if st.cancelled.len() >= 64 && st.cancelled.len().is_power_of_two() {
                st.cancelled.retain(|t| t.is_taken());
            }
            st.cancelled.push(task);
        }
        self.cancel_ready.notify_one();
    }

    /// Runtime side: blocks until tasks the runtime holds (taken, not answered) are
    /// cancelled, then hands over up to `max` of them; 0 once the runtime is unloaded.
    pub fn cancel_poll(&self, max: usize, mut each: impl FnMut(TaskPtr)) -> usize {
        let max = max.max(1);
        // Returns into the runtime's code, as task_poll does (see `unpin`).
        if let Some(users) = &self.users {
            users.note_current_thread();
        }
        let mut st = self.lock();
        st.cancel_listening = true;
        loop {
            let mut n = 0;
            while n < max {
                let Some(task) = st.cancelled.pop() else { break };
                // Answered since (and maybe reused by another call): not news any more.
                if task.is_taken() {
                    each(task);
                    n += 1;
                }
            }
            if n > 0 {
                return n;
            }
            if st.unloaded {
                st.cancelled = Vec::new();
                return 0;
            }
            st = self.cancel_ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether a poller waits for the next task by yielding its CPU rather than spinning: it
    /// may run on one CPU only, it runs on the worker's CPU, or the machine is busy.
    fn waits_by_yielding(&self) -> bool {
        !may_run_on_several_cpus() || self.shares_cpu_with_worker() || crate::spin::machine_oversubscribed()
    }

    /// Waits a little, spinning without the lock, for a task or the unload, as the thread's
    /// spin policy allows (see `spin`): not after spins that ran out, nor after the thread was
    /// descheduled while spinning on a busy machine.
    fn spin(&self, start: Instant) {
        let Some(budget) = self.begin_wait(&POLL_SPIN, start) else {
            return;
        };
        store_if_changed(&self.poller_cpu, current_cpu());
        let gaps = GapWatch::new(start);
        let mut i: u32 = 0;
        let mut now;
        let outcome = loop {
            if self.queued.load(Ordering::Acquire) != 0 || self.closing.load(Ordering::Acquire) {
                now = Instant::now();
                break Outcome::Hit(now - start);
            }
            spin_loop();
            i = i.wrapping_add(1);
            if i % 64 == 0 {
                now = Instant::now();
                if gaps.tick(now) {
                    break Outcome::Descheduled;
                }
                if now - start >= budget {
                    break Outcome::Miss;
                }
                store_if_changed(&self.poller_cpu, current_cpu());
                // Moved onto the worker's CPU, or the machine became busy since the spin
                // began: leave the CPU to the worker, whose post is what we wait for. With
                // CPUs to spare a yield is only a system call a task may arrive during.
                if self.shares_cpu_with_worker() || crate::spin::machine_oversubscribed() {
                    std::thread::yield_now();
                }
            }
        };
        self.end_wait(&POLL_SPIN, outcome, now);
    }

    /// Claims the queue's one place for a poller that waits without parking (spinning or
    /// yielding), for the budget `policy` allows; None: park at once. One such poller takes
    /// every task as it comes; a second one would only take a CPU from the worker or from
    /// it (the others park and are woken for more).
    fn begin_wait(&self, policy: &'static LocalKey<RefCell<SpinPolicy>>, start: Instant) -> Option<Duration> {
        let budget = policy.with(|p| p.borrow_mut().budget(start))?;
        self.spinning
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(budget)
    }

    /// Gives the place back and tells `policy` how the wait ended.
    fn end_wait(&self, policy: &'static LocalKey<RefCell<SpinPolicy>>, outcome: Outcome, now: Instant) {
        self.spinning.fetch_sub(1, Ordering::AcqRel);
        policy.with(|p| p.borrow_mut().record(outcome, now));
    }

    /// One CPU for the poller and the worker (a pinned worker's runtime threads inherit its
    /// affinity): instead of parking at once, give the CPU to the worker for a while and look
    /// again each time it comes back, as the worker does while it waits for an answer
    /// (`worker::yield_in_call`). Calls that follow each other then cost two yields each, and
    /// no futex wake-up and wait. As long as the yield policy finds it pays.
    fn yield_for_task(&self, start: Instant) {
        let Some(budget) = self.begin_wait(&POLL_YIELD, start) else {
            return;
        };
        let mut now = start;
        let outcome = loop {
            if self.queued.load(Ordering::Acquire) != 0 || self.closing.load(Ordering::Acquire) {
                break Outcome::Hit(now - start);
            }
            if now - start >= budget {
                break Outcome::Miss;
            }
            // Where this thread waits, for the worker's choice to yield to it (`post`).
            store_if_changed(&self.poller_cpu, current_cpu());
            std::thread::yield_now();
            now = Instant::now();
        };
        self.end_wait(&POLL_YIELD, outcome, now);
    }

    /// Poller side: whether this thread runs on the CPU the worker ran on at its last push.
    fn shares_cpu_with_worker(&self) -> bool {
        let cpu = current_cpu();
        cpu >= 0 && cpu == self.worker_cpu.load(Ordering::Relaxed)
    }

    /// Worker side: whether the spinning poller runs on this thread's CPU (spinning for its
    /// answer would only keep it from running).
    pub fn poller_shares_cpu(&self) -> bool {
        let cpu = current_cpu();
        cpu >= 0 && self.spinning.load(Ordering::Relaxed) > 0 && cpu == self.poller_cpu.load(Ordering::Relaxed)
    }

    /// Tasks waiting to be taken.
    pub fn depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Worker side: no task waits in the queue and no poller is between taking tasks and
    /// polling again (a runtime that answers in its poller thread has answered them all).
    pub fn looks_idle(&self) -> bool {
        self.queued.load(Ordering::Acquire) == 0 && self.busy.load(Ordering::Acquire) == 0
    }

    /// Worker side: whether a poller is spinning for a task now (so the next task is taken
    /// within microseconds, and waiting for its answer by spinning may pay).
    pub fn has_spinning_poller(&self) -> bool {
        self.spinning.load(Ordering::Acquire) > 0
    }

    /// Worker side: no more pushes; pollers drain what is queued, then get `None`.
    pub fn unload(&self) {
        let mut st = self.lock();
        st.unloaded = true;
        self.closing.store(true, Ordering::Release);
        drop(st);
        self.ready.notify_all();
        self.cancel_ready.notify_all();
    }
}

/// Answers a task whose caller gave up before any runtime took it (a taken task).
fn answer_cancelled(task: TaskPtr) {
    if task.respond(crate::abi::RC_CANCELLED, std::ptr::null_mut(), 0).is_ok() {
        if let Some(done) = crate::done_queue::get() {
            done.push_answer(task);
        }
    }
}

/// A store that leaves the cache line shared when the value is the same (the other side
/// reads it often).
fn store_if_changed(cell: &AtomicI32, value: i32) {
    if cell.load(Ordering::Relaxed) != value {
        cell.store(value, Ordering::Relaxed);
    }
}

/// The CPU the calling thread runs on (-1: unknown). Cheap: glibc reads it from the rseq
/// area the kernel keeps up to date, without a system call.
pub(crate) fn current_cpu() -> i32 {
    // SAFETY: no arguments; returns -1 on failure.
    unsafe { libc::sched_getcpu() }
}

/// Whether the calling thread's CPU affinity allows more than one CPU. Asked of the kernel
/// at most every 100 ms per thread: the answer is wanted on every call, and affinity changes
/// (taskset) are rare.
pub(crate) fn may_run_on_several_cpus() -> bool {
    thread_local! {
        /// When it was asked (coarse clock ns) and what it said.
        static CACHED: Cell<Option<(u64, bool)>> = const { Cell::new(None) };
    }
    const RECHECK_NS: u64 = 100_000_000;
    let now = crate::spin::coarse_now_ns();
    CACHED.with(|c| match c.get() {
        Some((at, several)) if now.saturating_sub(at) < RECHECK_NS => several,
        _ => {
            let several = affinity_has_several_cpus();
            c.set(Some((now, several)));
            several
        }
    })
}

fn affinity_has_several_cpus() -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call only fills it in.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return true;
        }
        libc::CPU_COUNT(&set) > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_and_unloaded_are_reported() {
        let q = RequestQueue::new(1, false);
        let a = TaskPtr::new(b"a", std::ptr::null_mut(), &q, 0, 0).unwrap();
        let b = TaskPtr::new(b"b", std::ptr::null_mut(), &q, 0, 0).unwrap();
        assert!(matches!(q.push(a), Ok(Pushed { wake: false, .. })));
        assert!(matches!(q.push(b), Err(PushError::Full)));
        q.unload();
        assert!(matches!(q.push(b), Err(PushError::Unloaded)));
        // Queued before the unload: still delivered, then None.
        assert_eq!(q.poll(), Some(a));
        assert_eq!(q.poll(), None);
        unsafe {
            a.free();
            b.free();
        }
    }

    #[test]
    fn a_task_cancelled_while_queued_is_never_handed_out() {
        let q = RequestQueue::new(16, false);
        let gone = TaskPtr::new(b"gone", std::ptr::null_mut(), &q, 0, 0).unwrap();
        let kept = TaskPtr::new(b"kept", std::ptr::null_mut(), &q, 0, 0).unwrap();
        q.push(gone).unwrap();
        q.push(kept).unwrap();
        assert!(!gone.cancel(), "not taken: nothing to announce");
        assert_eq!(q.poll(), Some(kept));
        // Answered by the queue itself: "cancelled".
        assert_eq!(gone.response().0, crate::abi::RC_CANCELLED);
        unsafe {
            gone.free();
            kept.free();
        }
    }

    #[test]
    fn cancel_poll_hands_over_cancelled_tasks_the_runtime_holds() {
        let q = Arc::new(RequestQueue::new(16, false));
        let q2 = q.clone();
        let listener = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while q2.cancel_poll(8, |t| seen.push(t)) > 0 {}
            seen
        });
        // Wait until the listener has asked once (announcements are kept from then on).
        while !q.lock().cancel_listening {
            std::thread::yield_now();
        }
        let held = TaskPtr::new(b"held", std::ptr::null_mut(), &q, 0, 0).unwrap();
        let answered = TaskPtr::new(b"answered", std::ptr::null_mut(), &q, 0, 0).unwrap();
        q.push(held).unwrap();
        q.push(answered).unwrap();
        assert_eq!(q.poll(), Some(held));
        assert_eq!(q.poll(), Some(answered));
        answered.respond(0, std::ptr::null_mut(), 0).unwrap();
        assert!(held.cancel());
        q.announce_cancelled(held);
        // Answered before the listener looked: not announced (cancel() says so too).
        assert!(!answered.cancel());
        while !q.lock().cancelled.is_empty() {
            std::thread::yield_now();
        }
        q.unload();
        assert_eq!(listener.join().unwrap(), vec![held]);
        assert!(held.is_cancelled());
        unsafe {
            held.free();
            answered.free();
        }
    }

    #[test]
    fn batch_poll_takes_up_to_max_then_reports_the_unload() {
        let q = RequestQueue::new(16, false);
        let tasks: Vec<_> = (0..5)
            .map(|_| TaskPtr::new(b"t", std::ptr::null_mut(), &q, 0, 0).unwrap())
            .collect();
        for t in &tasks {
            q.push(*t).unwrap();
        }
        let mut got = Vec::new();
        assert_eq!(q.poll_batch(3, |t| got.push(t)), 3);
        assert_eq!(q.poll_batch(3, |t| got.push(t)), 2);
        assert_eq!(got, tasks);
        q.unload();
        assert_eq!(q.poll_batch(3, |t| got.push(t)), 0);
        for t in tasks {
            unsafe { t.free() };
        }
    }

    /// Pushes as the worker does (waking parked pollers when asked), waiting while full.
    fn push_waking(q: &RequestQueue, task: TaskPtr) {
        loop {
            match q.push(task) {
                Ok(pushed) => {
                    if pushed.wake {
                        q.wake_pollers();
                    }
                    return;
                }
                Err(PushError::Full) => std::thread::yield_now(),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn many_pollers_get_every_task_exactly_once() {
        // Lock-free hand-over: pushes race pollers that spin, park and wake; each task is
        // delivered once, and every poller ends after the unload.
        let q = Arc::new(RequestQueue::new(64, false));
        let pollers: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while q.poll_batch(3, |t| got.push(t)) > 0 {}
                    got
                })
            })
            .collect();
        let mut sent = Vec::new();
        for i in 0..20_000 {
            let task = TaskPtr::new(b"x", std::ptr::null_mut(), &q, 0, 0).unwrap();
            push_waking(&q, task);
            sent.push(task);
            if i % 1000 == 0 {
                // Now and then a pause long enough for every poller to park.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        q.unload();
        let mut got: Vec<_> = pollers.into_iter().flat_map(|p| p.join().unwrap()).collect();
        assert_eq!(got.len(), sent.len());
        got.sort_by_key(|t| t.handle() as usize);
        got.dedup();
        assert_eq!(got.len(), sent.len(), "a task was handed out twice");
        assert_eq!(q.depth(), 0);
        for t in sent {
            unsafe { t.free() };
        }
    }

    #[test]
    fn parked_poller_is_woken_by_push_and_by_unload() {
        let q = Arc::new(RequestQueue::new(16, false));
        let q2 = q.clone();
        let poller = std::thread::spawn(move || {
            let mut got = 0;
            while let Some(t) = q2.poll() {
                unsafe { t.free() };
                got += 1;
            }
            got
        });
        for _ in 0..100 {
            let task = TaskPtr::new(b"x", std::ptr::null_mut(), &q, 0, 0).unwrap();
            push_waking(&q, task);
        }
        q.unload();
        assert_eq!(poller.join().unwrap(), 100);
    }
}

#[cfg(test)]
mod round_trip_bench {
    //! `cargo test --release round_trip -- --ignored --nocapture`: the module's own share of
    //! a call (task, queue, poller, answer, done-queue), without nginx and Lua: a worker-like
    //! thread posts and spins on a done-queue, a poller thread echoes as a runtime would.
    use super::*;
    use crossbeam_queue::SegQueue;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    #[ignore]
    fn round_trip() {
        let q = Arc::new(RequestQueue::new(1024, false));
        let done: Arc<SegQueue<TaskPtr>> = Arc::new(SegQueue::new());
        let (q2, done2) = (q.clone(), done.clone());
        let poller = std::thread::spawn(move || {
            while let Some(t) = q2.poll() {
                let (p, len) = t.request().unwrap();
                // SAFETY: the echo answer, malloc()ed as the ABI wants.
                let rsp = unsafe {
                    let rsp = libc::malloc(len.max(1)).cast::<std::ffi::c_char>();
                    std::ptr::copy_nonoverlapping(p, rsp, len);
                    rsp
                };
                t.respond(0, rsp, len).unwrap();
                done2.push(t);
            }
        });
        let req = vec![b'x'; 512];
        for round in 0..5 {
            let n = 100_000;
            let start = Instant::now();
            for _ in 0..n {
                let task = TaskPtr::new(&req, std::ptr::null_mut(), &q, 0, 0).unwrap();
                if q.push(task).unwrap().wake {
                    q.wake_pollers();
                }
                let back = loop {
                    if let Some(t) = done.pop() {
                        break t;
                    }
                    std::hint::spin_loop();
                };
                unsafe { back.free() };
            }
            println!("round {round}: {:.3} us per call", start.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        q.unload();
        poller.join().unwrap();
    }
}
