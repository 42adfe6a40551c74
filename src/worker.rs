//! Per-worker state, touched only on the nginx worker thread: the eventfd in the event
//! loop, the semaphores coroutines wait on, the live-task count and the loaded runtimes.
//!
//! While calls are in flight the worker may poll the done-queue itself for a few
//! microseconds instead of sleeping in epoll until the eventfd fires (`spin_for_answers`):
//! on two or more CPUs a wake-up from idle costs more than the whole call. Not when pinned
//! to one CPU: there the runtime needs that CPU to answer.
//!
//! Semaphores are lua-nginx-module's and are reused: one that ended clean (its one post
//! consumed by its waiter, or never posted) goes back to a free list. One that was posted
//! but not consumed (its waiter timed out or vanished in the same tick) may still have
//! lua-nginx-module's event posted, so it is handed back to lua-nginx-module only from a
//! "reaper" event posted after it, when that event has run.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ptr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nginx_sys::{
    ngx_add_timer, ngx_connection_t, ngx_core_conf_t, ngx_core_module, ngx_cycle, ngx_del_timer,
    ngx_delete_posted_event, ngx_event_t, ngx_free_connection, ngx_get_connection, ngx_handle_read_event,
    ngx_http_request_t, ngx_log_t, ngx_msec_t, ngx_post_event, ngx_posted_events, ngx_posted_next_events, ngx_queue_t,
    NGX_LOG_ALERT, NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_NOTICE,
};
use ngx::ngx_log_error;

use crate::done_queue::{self, Done, DoneQueue};
use crate::event_loop_probe;
use crate::lua_sema::{LuaSema, Sema};
use crate::queue::{PushError, RequestQueue};
use crate::telemetry;
use crate::request_tasks;
use crate::runtime_log;
use crate::spin::{BusyGapWatch, GapWatch, Outcome, SpinPolicy, MAX_SPIN, PICKUP_WINDOW};
use crate::task::{self, Request, TaskPtr};
use crate::waiter::{self, Action, Event, Waiter};

struct Worker {
    lua: LuaSema,
    done: &'static DoneQueue,
    conn: *mut ngx_connection_t,
    /// The event loop is level-triggered (not nginx's epoll): the eventfd must be read.
    eventfd_needs_read: bool,
    reaper: Box<ngx_event_t>,
    /// Every semaphore this worker made and has not given back (a set: the reaper removes
    /// each dirty one in O(1), however many there are).
    all_sems: HashSet<*mut Sema>,
    free_sems: Vec<*mut Sema>,
    dirty_sems: Vec<*mut Sema>,
    live_tasks: usize,
    /// Queues whose parked pollers `waker` wakes at the end of this event-loop iteration.
    pending_wakes: Vec<Arc<RequestQueue>>,
    waker: Box<ngx_event_t>,
    /// Polls the done-queue on the next event-loop iterations while `spin_until` is ahead.
    spinner: Box<ngx_event_t>,
    spin_until: Option<Instant>,
    /// When the spin learnt something last (post or answer), and the spin budget now.
    spin_mark: Instant,
    spin_budget: std::time::Duration,
    spin_policy: SpinPolicy,
    spin_gaps: BusyGapWatch,
    /// The last task posted while spinning, and when: spinning stops if no runtime thread
    /// picks it up within `PICKUP_WINDOW` (the runtime's pollers sleep or are descheduled);
    /// not during a probe, which waits for a sleeping poller on purpose.
    spin_watch: Option<(TaskPtr, Instant)>,
    spin_probe: bool,
    /// The call just posted, when its caller may wait for the answer without yielding
    /// (`wait_briefly`), and how: a poller was spinning and no other call is in flight, or
    /// on one CPU nothing else waits in the event loop.
    brief_candidate: Option<(TaskPtr, BriefWait)>,
    /// Learns whether waiting by yielding the CPU pays (one CPU only).
    yield_policy: SpinPolicy,
    /// Since when calls have been waited for inside the call without a turn of the event
    /// loop, which `loop_marker` (posted to the next iteration) ends.
    in_call_streak: Option<Instant>,
    /// When the last call was posted: calls that follow each other closely are worth a
    /// poller's wake-up waited for in the call (see `post`).
    last_post: Option<Instant>,
    loop_marker: Box<ngx_event_t>,
    /// The call `wait_briefly` waits for now: its answer needs no semaphore post.
    brief_waiting: Option<TaskPtr>,
    /// The worker is exiting (quit, reload): calls still waiting at `exit_deadline` end.
    exiting: bool,
    exit_deadline: Box<ngx_event_t>,
    /// The deadline passed: waiting calls were ended, new ones are refused.
    exit_expired: bool,
    /// Stray answers not reported yet, when the last report was written, and the timer
    /// that writes the next one.
    stray_unlogged: usize,
    stray_logged_at: Option<Instant>,
    stray_flush: Box<ngx_event_t>,
    /// Libraries of unloaded `unpin` runtimes, closed once their threads are gone.
    pending_closes: Vec<PendingClose>,
    closer: Box<ngx_event_t>,
    /// Looks for waiters that vanished without a word (killed light threads) while calls
    /// are in flight.
    sweeper: Box<ngx_event_t>,
}

/// An unloaded `unpin` runtime whose library waits to be closed (see `unpin`).
pub struct PendingClose {
    pub queue: Arc<RequestQueue>,
    /// The dlopen handle.
    pub handle: usize,
    pub file: String,
    /// When the runtime was unloaded.
    pub since: Instant,
}

/// An unloaded `unpin` runtime whose threads still run after this long (Go's never exit) is
/// left mapped for good, so the worker stops checking (bounded work per unload).
const CLOSE_GIVE_UP: Duration = Duration::from_secs(60);

/// At most one "dropped N response(s)" line per interval.
const STRAY_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The longest stretch of calls waited for inside the call without a turn of the event loop
/// (see `may_wait_in_call`): nginx's timers have a resolution of 1 ms anyway.
const MAX_IN_CALL_STREAK: Duration = Duration::from_millis(1);

/// Calls posted closer together than this follow each other (a request making calls in a
/// loop): when one finds the runtime's pollers parked, the worker wakes one at once and waits
/// for the answer in the call, so the poller is back spinning when the next call comes.
/// Sparser calls find the pollers parked anyway: they wait in epoll, which costs no CPU.
const BACK_TO_BACK: Duration = Duration::from_micros(200);

/// How often the worker looks for killed light threads' calls while calls are in flight.
const SWEEP_MS: ngx_msec_t = 100;

/// How often the worker checks whether unloaded `unpin` runtimes' threads are gone.
const CLOSE_CHECK_MS: ngx_msec_t = 100;

/// How long calls may still wait once the worker is exiting, when nginx.conf sets no
/// `worker_shutdown_timeout`.
const DEFAULT_EXIT_WAIT_MS: ngx_msec_t = 60_000;

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    /// Set on the nginx worker thread once it is initialized.
    static ON_WORKER_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is the nginx worker's own (where blocking is never allowed).
pub fn on_worker_thread() -> bool {
    ON_WORKER_THREAD.with(std::cell::Cell::get)
}

fn cycle_log() -> *mut ngx_log_t {
    // SAFETY: ngx_cycle is set before any module hook or request runs.
    unsafe { (*ngx_cycle).log }
}

/// Runs `f` on the worker state; an error if the worker is not initialized.
fn with<R>(f: impl FnOnce(&mut Worker) -> R) -> Result<R, String> {
    WORKER.with(|w| match w.try_borrow_mut() {
        Ok(mut guard) => match guard.as_mut() {
            Some(worker) => Ok(f(worker)),
            None => Err("resty_ffi is not initialized in this process".to_string()),
        },
        Err(_) => Err("resty_ffi worker state is busy (re-entered)".to_string()),
    })
}

/// Sets the worker up once: lua-nginx-module's semaphores, the eventfd in the event loop.
/// Called from `init_process` and again (a no-op then) before the first load.
pub fn init() -> Result<(), String> {
    let ready = WORKER.with(|w| w.borrow().is_some());
    if ready {
        return Ok(());
    }
    let lua = LuaSema::resolve()?;
    let done = done_queue::get_or_init()?;
    let log = cycle_log();
    // SAFETY: the cycle's log is live on the worker thread.
    runtime_log::set_max_level(unsafe { (*log).log_level });
    // SAFETY: worker thread, event module initialized (init_process runs after it).
    let conn = unsafe { ngx_get_connection(done.fd(), log) };
    if conn.is_null() {
        return Err("no free connection for the eventfd (raise worker_connections)".to_string());
    }
    // SAFETY: conn is a fresh connection of ours; its read event is valid.
    unsafe {
        let rev = (*conn).read;
        (*rev).handler = Some(on_eventfd_readable);
        (*rev).log = log;
        (*conn).log = log;
        // "Idle": when the worker starts exiting, nginx's ngx_close_idle_connections calls
        // our read handler with `close` set. That is how the worker learns it is exiting.
        (*conn).set_idle(1);
        if ngx_handle_read_event(rev, 0) != 0 {
            ngx_free_connection(conn);
            return Err("cannot add the eventfd to the event loop".to_string());
        }
    }
    // Unknown: on one CPU every call goes through the event loop (still correct).
    event_loop_probe::init(done.fd());
    // SAFETY: an all-zero ngx_event_t is the usual "not posted, no timer" state.
    let mut reaper: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    reaper.handler = Some(on_reaper);
    reaper.log = log;
    // SAFETY: as above.
    let mut waker: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    waker.handler = Some(on_waker);
    waker.log = log;
    // SAFETY: as above.
    let mut loop_marker: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    loop_marker.handler = Some(on_loop_marker);
    loop_marker.log = log;
    // SAFETY: as above.
    let mut spinner: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    spinner.handler = Some(on_spin);
    spinner.log = log;
    // SAFETY: as above.
    let mut exit_deadline: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    exit_deadline.handler = Some(on_exit_deadline);
    exit_deadline.log = log;
    // nginx's timer code logs the fd of a timer event's `data` connection: give it ours.
    exit_deadline.data = conn.cast();
    // Cancelable: it never keeps an exiting worker alive by itself (waiting calls do).
    exit_deadline.set_cancelable(1);
    // SAFETY: as above.
    let mut closer: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    closer.handler = Some(on_close_check);
    closer.log = log;
    closer.data = conn.cast();
    closer.set_cancelable(1);
    // SAFETY: as above.
    let mut stray_flush: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    stray_flush.handler = Some(on_stray_flush);
    stray_flush.log = log;
    stray_flush.data = conn.cast();
    stray_flush.set_cancelable(1);
    // SAFETY: as above.
    let mut sweeper: Box<ngx_event_t> = Box::new(unsafe { std::mem::zeroed() });
    sweeper.handler = Some(on_sweep);
    sweeper.log = log;
    sweeper.data = conn.cast();
    sweeper.set_cancelable(1);
    ON_WORKER_THREAD.with(|f| f.set(true));
    WORKER.with(|w| {
        *w.borrow_mut() = Some(Worker {
            lua,
            done,
            conn,
            // SAFETY: set by the event module's init, which ran before init_process.
            eventfd_needs_read: unsafe { nginx_sys::ngx_event_flags }
                & nginx_sys::NGX_USE_CLEAR_EVENT as nginx_sys::ngx_uint_t
                == 0,
            reaper,
            all_sems: HashSet::new(),
            free_sems: Vec::new(),
            dirty_sems: Vec::new(),
            live_tasks: 0,
            pending_wakes: Vec::new(),
            waker,
            spinner,
            spin_until: None,
            spin_mark: Instant::now(),
            spin_budget: Duration::ZERO,
            spin_policy: SpinPolicy::new(),
            spin_gaps: BusyGapWatch::new(Instant::now()),
            spin_watch: None,
            spin_probe: false,
            brief_candidate: None,
            yield_policy: SpinPolicy::yielding(),
            in_call_streak: None,
            last_post: None,
            loop_marker,
            brief_waiting: None,
            exiting: false,
            exit_deadline,
            exit_expired: false,
            stray_unlogged: 0,
            stray_logged_at: None,
            stray_flush,
            pending_closes: Vec::new(),
            closer,
            sweeper,
        })
    });
    Ok(())
}

/// Worker exit: unload runtimes, give every semaphore back, leave the event loop.
/// The eventfd itself stays open until the process ends: a runtime thread may still
/// write to it, and a closed (then reused) descriptor number must never receive that.
pub fn exit() {
    crate::loaded::unload_all();
    // Lines the runtimes logged since the eventfd was last read (a handler that noticed its
    // cancellation at the exit deadline, say) would die with the process: write them now.
    // SAFETY: worker thread, in exit_process: the cycle's log is still live.
    unsafe { runtime_log::drain(cycle_log()) };
    let lent = crate::lent::live();
    if lent > 0 {
        if crate::lent::keep_main_vm_at_exit() {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                cycle_log(),
                "resty_ffi: {} lent request(s) still out at exit: the Lua VM is left to the process exit",
                lent
            );
        } else {
            ngx_log_error!(
                NGX_LOG_ALERT,
                cycle_log(),
                "resty_ffi: {} lent request(s) still out at exit, and the Lua VM could not be kept open",
                lent
            );
        }
    }
    let Some(mut w) = WORKER.with(|w| w.borrow_mut().take()) else {
        return;
    };
    // SAFETY: worker thread; the reaper and the connection are ours. After a graceful quit
    // no coroutine waits any more; after a fast stop (SIGTERM) some may, and lua-nginx-module
    // frees such a semaphore quietly while nginx terminates. Every one must go back, or
    // lua-nginx-module alerts about a semaphore block still in use at exit.
    unsafe {
        if w.reaper.posted() != 0 {
            ngx_delete_posted_event(&mut *w.reaper);
        }
        if w.waker.posted() != 0 {
            ngx_delete_posted_event(&mut *w.waker);
        }
        if w.spinner.posted() != 0 {
            ngx_delete_posted_event(&mut *w.spinner);
        }
        if w.loop_marker.posted() != 0 {
            ngx_delete_posted_event(&mut *w.loop_marker);
        }
        if w.exit_deadline.timer_set() != 0 {
            ngx_del_timer(&mut *w.exit_deadline);
        }
        if w.closer.timer_set() != 0 {
            ngx_del_timer(&mut *w.closer);
        }
        if w.stray_flush.timer_set() != 0 {
            ngx_del_timer(&mut *w.stray_flush);
        }
        if w.sweeper.timer_set() != 0 {
            ngx_del_timer(&mut *w.sweeper);
        }
        for sem in w.all_sems.drain() {
            w.lua.destroy(sem);
        }
        let c = w.conn;
        if !c.is_null() {
            if let Some(del) = nginx_sys::ngx_event_actions.del_conn {
                del(c, 0);
            }
            // Mark the slot closed (the descriptor stays open, see above), or nginx's
            // exit check reports "open socket left in connection".
            (*c).fd = -1;
            ngx_free_connection(c);
        }
    }
}

impl Worker {
    fn take_sem(&mut self) -> Result<*mut Sema, String> {
        if let Some(sem) = self.free_sems.pop() {
            return Ok(sem);
        }
        let sem = self.lua.create()?;
        self.all_sems.insert(sem);
        Ok(sem)
    }

    /// A semaphore whose task is over: reuse it if clean, else hand it to the reaper.
    fn release_sem(&mut self, sem: *mut Sema, clean: bool) {
        if sem.is_null() {
            return;
        }
        // SAFETY: sem is one of ours; worker thread.
        if clean && unsafe { self.lua.count(sem) } == 0 {
            self.free_sems.push(sem);
            return;
        }
        self.dirty_sems.push(sem);
        // SAFETY: worker thread; the reaper event lives as long as the worker state.
        unsafe { ngx_post_event(&mut *self.reaper, ptr::addr_of_mut!(ngx_posted_events)) };
    }

    /// Frees a task that nobody waits for and no runtime holds.
    fn free_task(&mut self, task: TaskPtr) {
        if let Some(q) = task.queue() {
            q.stats.live.sub(1);
        }
        // SAFETY: worker thread; the task is out of every queue.
        let sem = unsafe {
            request_tasks::unlink(task);
            let side = task.side();
            std::mem::replace(&mut side.sem, ptr::null_mut())
        };
        self.release_sem(sem, true);
        crate::lent::on_free(task);
        // SAFETY: see above; nobody else refers to the task any more.
        unsafe { task.free() };
        self.live_tasks -= 1;
    }

    /// nginx began to exit this worker: calls still waiting get until the deadline.
    fn begin_exit(&mut self) {
        if self.exiting {
            return;
        }
        self.exiting = true;
        let ms = shutdown_timeout().unwrap_or(DEFAULT_EXIT_WAIT_MS);
        if self.live_tasks > 0 {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                cycle_log(),
                "resty_ffi: worker exiting, {} call(s) in flight end in {} ms at the latest",
                self.live_tasks,
                ms
            );
        }
        // SAFETY: worker thread; the event lives as long as the worker state.
        unsafe { ngx_add_timer(&mut *self.exit_deadline, ms) };
    }

    /// The exit deadline passed: every coroutine still waiting is resumed without an answer.
    fn expire_waiting(&mut self) {
        self.exit_expired = true;
        let mut ended = 0usize;
        task::for_each_live(|task| {
            // SAFETY: worker thread.
            if unsafe { task.side() }.waiter == Waiter::Waiting {
                ended += 1;
            }
            let step = self.apply(task, Event::ExitDeadline);
            count_given_up(task, &step, |s| &s.exiting);
        });
        if ended > 0 {
            ngx_log_error!(
                NGX_LOG_NOTICE,
                cycle_log(),
                "resty_ffi: worker exiting: {} call(s) still waiting ended without an answer",
                ended
            );
        }
    }

    /// A call was posted: poll for answers for a little while instead of sleeping in epoll,
    /// when the spin policy says it pays (see `spin`).
    fn spin_for_answers(&mut self, task: TaskPtr, probe: bool) {
        let now = Instant::now();
        if self.spin_until.is_some() {
            self.spin_until = Some(now + self.spin_budget);
            self.spin_mark = now;
            self.spin_watch = Some((task, now));
            return;
        }
        let Some(budget) = self.spin_policy.budget(now) else {
            return;
        };
        self.spin_budget = budget;
        self.spin_until = Some(now + budget);
        self.spin_mark = now;
        self.spin_gaps = BusyGapWatch::new(now);
        self.spin_watch = Some((task, now));
        self.spin_probe = probe;
        self.done.hold_wakeups();
        // SAFETY: worker thread; the spinner lives as long as the worker state. A posted
        // "next" event makes nginx poll epoll without sleeping on its next iteration.
        unsafe { ngx_post_event(&mut *self.spinner, ptr::addr_of_mut!(ngx_posted_next_events)) };
    }

    /// Whether a call may be waited for inside the call (spinning or yielding, no trip through
    /// the event loop): nginx's event loop has nothing waiting, and the worker went through it
    /// within the last `MAX_IN_CALL_STREAK` (expired timers and signals are looked at only
    /// there). A request whose calls follow each other thus never holds up another
    /// connection, a timer or a reload for longer than that.
    fn may_wait_in_call(&mut self, now: Instant) -> bool {
        if self
            .in_call_streak
            .is_some_and(|start| now.saturating_duration_since(start) >= MAX_IN_CALL_STREAK)
        {
            return false;
        }
        if !event_loop_probe::idle(&[&self.loop_marker, &self.spinner], now) {
            return false;
        }
        if self.in_call_streak.is_none() {
            self.in_call_streak = Some(now);
            if self.loop_marker.posted() == 0 {
                // SAFETY: worker thread; the marker lives as long as the worker state.
                unsafe {
                    ngx_post_event(&mut *self.loop_marker, ptr::addr_of_mut!(ngx_posted_next_events))
                };
            }
        }
        true
    }

    /// Wakes `queue`'s parked pollers once, at the end of this event-loop iteration (the
    /// waker event, put on nginx's `posted` queue), for every call the iteration posts.
    fn wake_at_iteration_end(&mut self, queue: &Arc<RequestQueue>, posted: *mut ngx_queue_t) {
        if !self.pending_wakes.iter().any(|q| Arc::ptr_eq(q, queue)) {
            self.pending_wakes.push(queue.clone());
        }
        // SAFETY: worker thread; the waker event lives as long as the worker state, and
        // `posted` is one of nginx's posted-event queues (posting twice is a no-op).
        unsafe { ngx_post_event(&mut *self.waker, posted) };
    }

    /// Whether the worker waits for answers by yielding its CPU rather than by spinning or
    /// sleeping in epoll: when it may run on one CPU only (its runtime threads inherit that),
    /// or while spinning is paused because the machine is busy (a runtime thread woken then
    /// often shares the worker's CPU).
    fn waits_by_yielding(&self, now: Instant) -> bool {
        !crate::queue::may_run_on_several_cpus() || self.spin_policy.crowded(now)
    }

    /// Wakes the parked pollers of `queues`. On one CPU, then yields the CPU to them until
    /// they have answered what this iteration posted (or the yield policy's budget is
    /// spent), and takes the answers, without an eventfd write and an epoll wake-up.
    fn wake_and_yield(&mut self, queues: &[Arc<RequestQueue>]) {
        let start = Instant::now();
        let budget = if self.live_tasks > 0 && self.waits_by_yielding(start) {
            self.yield_policy.budget(start)
        } else {
            None
        };
        // Taken before the wake-up: on one CPU the woken poller may run (and answer) at once.
        let held = budget.is_some() && self.done.try_hold_wakeups();
        for q in queues {
            q.wake_pollers();
        }
        let Some(budget) = budget.filter(|_| held) else {
            return;
        };
        let done = self.done;
        let mut answers = 0usize;
        let outcome = loop {
            yield_cpu();
            done.pop_each(|d| {
                answers += usize::from(matches!(d, Done::Answer(_)));
                self.on_done(d)
            });
            // Their pollers are back for more: what they took is answered, or handed on to
            // threads of the runtime's own (answered later, through the eventfd).
            if queues.iter().all(|q| q.looks_idle()) {
                break if answers > 0 { Outcome::Hit(start.elapsed()) } else { Outcome::Abandoned };
            }
            if start.elapsed() >= budget {
                break Outcome::Miss;
            }
        };
        self.yield_policy.record(outcome, Instant::now());
        done.release_hold(|t| self.on_done(t));
        self.drain_logs();
    }

    /// Everything the runtimes handed back: finished tasks, log lines, stray answers.
    fn drain_done(&mut self) {
        let done = self.done;
        done.drain(self.eventfd_needs_read, |task| self.on_done(task));
        self.drain_logs();
    }

    /// Runtime log lines and stray-answer counts. Their writers nudge the eventfd only when
    /// no wake-up is pending, so whoever takes that duty back from a hold drains them too.
    fn drain_logs(&mut self) {
        // SAFETY: worker thread; the cycle's log is live.
        unsafe { runtime_log::drain(cycle_log()) };
        self.stray_unlogged += self.done.take_stray_responds();
        self.log_stray_responds();
    }

    /// Reports answers to tasks that were not waiting for one: at most one line per
    /// `STRAY_LOG_INTERVAL`, with the count since the last line (a runtime that answers
    /// everything twice must not flood error.log).
    fn log_stray_responds(&mut self) {
        if self.stray_unlogged == 0 {
            return;
        }
        let now = Instant::now();
        if let Some(at) = self.stray_logged_at {
            let next = at + STRAY_LOG_INTERVAL;
            if now < next {
                if self.stray_flush.timer_set() == 0 {
                    let ms = (next - now).as_millis() as ngx_msec_t + 1;
                    // SAFETY: worker thread; the event lives as long as the worker state.
                    unsafe { ngx_add_timer(&mut *self.stray_flush, ms) };
                }
                return;
            }
        }
        ngx_log_error!(
            NGX_LOG_ERR,
            cycle_log(),
            "resty_ffi: dropped {} response(s) to tasks that were not waiting for one (answered twice?)",
            self.stray_unlogged
        );
        self.stray_unlogged = 0;
        self.stray_logged_at = Some(now);
    }

    /// What a runtime thread handed back.
    fn on_done(&mut self, done: Done) {
        match done {
            Done::Answer(task) => self.on_answer(task),
            Done::Chunk(task) => self.on_chunk(task),
        }
    }

    /// A stream call got a chunk: wake its reader if it waits for one.
    fn on_chunk(&mut self, task: TaskPtr) {
        // The task may have ended (and its slot serve another call) since the chunk came.
        if !task.is_current() {
            return;
        }
        // SAFETY: worker thread.
        let side = unsafe { task.side() };
        if side.reader_waiting && side.waiter == Waiter::Waiting {
            side.reader_waiting = false;
            // SAFETY: the semaphore is ours and the reader's coroutine waits on it.
            unsafe { self.lua.post(side.sem) };
        }
    }

    /// A finished task came back from a runtime.
    fn on_answer(&mut self, task: TaskPtr) {
        if let Some(stats) = task.queue().map(|q| &q.stats) {
            let (posted, taken, answered) = task.times();
            // Not stamped (telemetry off) or never taken (answered "cancelled" by the queue).
            if posted != 0 && taken != 0 && answered != 0 {
                stats.queue_wait.record(taken.saturating_sub(posted));
                stats.service.record(answered.saturating_sub(taken));
            }
        }
        // SAFETY: worker thread.
        let side = unsafe { task.side() };
        // A stream's reader that is busy between two reads finds the end by itself.
        let busy_reader = side.is_stream && !side.reader_waiting;
        side.reader_waiting = false;
        let caller_awake = self.brief_waiting == Some(task) || busy_reader;
        self.apply(task, Event::Answered { caller_awake });
    }

    /// Carries out one event of the task's waiter life cycle (`waiter::step`).
    fn apply(&mut self, task: TaskPtr, event: Event) -> waiter::Step {
        // SAFETY: worker thread; the waiter side is the worker's alone.
        let side = unsafe { task.side() };
        let step = waiter::step(side.waiter, event);
        side.waiter = step.next;
        for action in step.actions {
            match *action {
                // SAFETY: the semaphore is ours and its coroutine is still there.
                Action::PostSema => unsafe { self.lua.post(side.sem) },
                Action::ReleaseSem { clean } => {
                    let sem = std::mem::replace(&mut side.sem, ptr::null_mut());
                    self.release_sem(sem, clean);
                }
                // SAFETY: worker thread.
                Action::Unlink => unsafe { request_tasks::unlink(task) },
                // Always the last action: nothing touches the task after it.
                Action::Free => self.free_task(task),
                Action::Cancel => {
                    if side.is_stream {
                        if let Some(stream) = task.stream() {
                            stream.cancel();
                        }
                    }
                    if task.cancel() {
                        if let Some(queue) = task.queue() {
                            queue.announce_cancelled(task);
                        }
                    }
                }
                Action::ReportDuplicate => {
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        cycle_log(),
                        "resty_ffi: task {:p} came back twice",
                        task.handle()
                    );
                }
            }
        }
        step
    }
}

/// Lua side: queues a call for `r`; returns the task and the semaphore to wait on.
///
/// # Safety
/// `r` must be the live request of the calling coroutine; worker thread only.
pub unsafe fn post(
    r: *mut ngx_http_request_t,
    queue: &Arc<RequestQueue>,
    req: Request<'_>,
    timeout_ms: u64,
    stream_window: usize,
) -> Result<(TaskPtr, *mut Sema), String> {
    with(|w| {
        if w.exit_expired {
            return Err("worker exiting".to_string());
        }
        // SAFETY: the caller guarantees r.
        let list = unsafe { request_tasks::for_request(r) }.ok_or("out of memory")?;
        let sem = w.take_sem()?;
        // One clock read for the deadline, the telemetry stamp and the wait decisions below.
        let (now, now_ns) = telemetry::now_with_ns();
        let deadline_ns = match timeout_ms {
            0 => 0,
            ms => now_ns.saturating_add(ms.saturating_mul(1_000_000)),
        };
        let stamp = if telemetry::enabled() { now_ns } else { 0 };
        let task = match TaskPtr::with_request(req, sem, queue, deadline_ns, stamp) {
            Ok(task) => task,
            Err(e) => {
                w.release_sem(sem, true);
                return Err(match e {
                    task::NoTask::SlabFull => "too many calls in flight in this worker".to_string(),
                    task::NoTask::NoMemory => {
                        let len = match req {
                            Request::Copy(bytes) => bytes.len(),
                            Request::Lent { len, .. } => len,
                        };
                        format!("no memory for a copy of the request ({len} bytes)")
                    }
                });
            }
        };
        if stream_window > 0 {
            task.set_stream(Arc::new(crate::stream::Stream::new(stream_window)));
            // SAFETY: worker thread; not queued yet.
            unsafe { task.side() }.is_stream = true;
        }
        // One CPU for the worker and its runtime threads (a pinned worker: they inherit its
        // affinity), or a busy machine: spinning would only hold the CPU the runtime needs.
        // The worker yields it instead: inside the call if nothing else waits in the event
        // loop, else at the end of this event-loop iteration, for every call it posted (see
        // `wake_and_yield`).
        let back_to_back = w
            .last_post
            .replace(now)
            .is_some_and(|t| now.saturating_duration_since(t) < BACK_TO_BACK);
        // So does a worker whose runtime thread waits for work on this very CPU (the
        // scheduler put both there): spinning for its answer would only keep it from running.
        let yielding = stream_window == 0 && (w.waits_by_yielding(now) || queue.poller_shares_cpu());
        let alone = yielding
            && w.live_tasks == 0
            && w.yield_policy.budget(now).is_some()
            && w.may_wait_in_call(now);
        // Responders skip the eventfd while the worker collects answers itself; taken before
        // the runtime is woken, which on one CPU may run (and answer) at once.
        let held = alone && w.done.try_hold_wakeups();
        // A plain call's answer may be waited for inside the call: the responder then hands
        // it over in the slot. Every branch below that does not wait ends the watch.
        if stream_window == 0 {
            task.watch();
        }
        let mut woken = false;
        let taken_soon = match queue.push(task) {
            Ok(pushed) if held => {
                if pushed.wake {
                    queue.wake_pollers();
                }
                true
            }
            Ok(_) if yielding => {
                // A "next" event: nginx looks at epoll (without sleeping) before it runs, so a
                // request whose calls follow each other cannot keep other connections waiting
                // while the waker collects their answers.
                w.wake_at_iteration_end(queue, ptr::addr_of_mut!(ngx_posted_next_events));
                false
            }
            Ok(pushed)
                if pushed.wake
                    && back_to_back
                    && stream_window == 0
                    && w.live_tasks == 0
                    && w.spin_policy.budget(now).is_some()
                    && w.may_wait_in_call(now) =>
            {
                // The pollers parked while this request was between two calls: one is woken
                // now and the answer waited for here (`BriefWait::Woken`), so the poller is
                // back spinning when the next call comes, instead of every call paying two
                // wake-ups (poller and worker) and each finding the poller asleep again.
                queue.wake_pollers();
                woken = true;
                true
            }
            Ok(pushed) if pushed.wake => {
                w.wake_at_iteration_end(queue, ptr::addr_of_mut!(ngx_posted_events));
                false
            }
            Ok(pushed) => pushed.taken_soon,
            Err(e) => {
                if held {
                    w.done.release_hold(|t| w.on_done(t));
                }
                // SAFETY: never queued.
                unsafe { task.free() };
                w.release_sem(sem, true);
                match e {
                    PushError::Full => queue.stats.queue_full.add(1),
                    PushError::Unloaded => queue.stats.unloaded.add(1),
                }
                return Err(e.message().to_string());
            }
        };
        queue.stats.calls.add(1);
        queue.stats.live.add(1);
        // SAFETY: worker thread; the runtime never touches the waiter side.
        unsafe { request_tasks::link(list, task) };
        if task.is_lent() {
            crate::lent::lent(task);
        }
        w.live_tasks += 1;
        w.arm_sweeper();
        // Spin only if a runtime thread is there to take the call at once (a sleeping
        // poller needs a wake-up that costs more than sleeping in epoll ourselves), or to
        // probe now and then whether both sides could spin again. The only call in flight
        // is waited for inside the call (`wait_briefly`), without a yield and a trip
        // through the event loop; with more in flight the event loop keeps serving them.
        w.brief_candidate = None;
        if held {
            // Waited for right here, the hold released: `wait_briefly` only reports.
            if w.yield_in_call(task, now) {
                w.brief_candidate = Some((task, BriefWait::Answered));
            }
        } else if stream_window > 0 {
            // A stream's reader waits for chunks on its semaphore (`stream_next`).
        } else if woken {
            w.brief_candidate = Some((task, BriefWait::Woken));
        } else if taken_soon && w.live_tasks == 1 && w.may_wait_in_call(now) {
            // (Also while the event-loop spinner runs: it stops once nothing is in flight.)
            w.brief_candidate = Some((task, BriefWait::Spin));
        } else if w.settle_watch(task) {
            // Answered already, in the slot: no wait at all.
            w.brief_candidate = Some((task, BriefWait::Answered));
        } else if yielding {
            // Waited for at the end of the iteration (`on_waker`).
        } else if queue.has_spinning_poller() || w.spin_until.is_some() {
            w.spin_for_answers(task, false);
        } else if w.spin_policy.probe_due(now) {
            w.spin_for_answers(task, true);
        }
        Ok((task, sem))
    })?
}

/// Lua side, right after `post`: spins for the answer inside the call when `post` found it
/// worth it and the spin policy allows (see `spin`). True: the answer is there, read it
/// with `result` without waiting on the semaphore (which was not posted). False: wait on
/// the semaphore as usual.
pub fn wait_briefly(task: TaskPtr) -> bool {
    with(|w| {
        let answered = match w.brief_candidate.take() {
            Some((t, BriefWait::Spin)) if t == task => w.spin_in_call(task, PICKUP_WINDOW),
            // A woken poller takes a wake-up's time to pick the task up.
            Some((t, BriefWait::Woken)) if t == task => w.spin_in_call(task, MAX_SPIN),
            Some((t, BriefWait::Answered)) => t == task,
            _ => false,
        };
        // Whatever happened, the watch ends here (an answer that came meanwhile is taken).
        answered || w.settle_watch(task)
    })
    .unwrap_or(false)
}

impl Worker {
    /// One CPU: yields it to the runtime thread (woken by `post`, the done-queue's wake-ups
    /// held) until the answer is there, within the yield policy's budget, then releases the
    /// hold. The answer comes without an eventfd write, an epoll round or a Lua yield.
    fn yield_in_call(&mut self, task: TaskPtr, start: Instant) -> bool {
        let budget = self.yield_policy.budget(start).unwrap_or(Duration::ZERO);
        let done = self.done;
        self.brief_waiting = Some(task);
        let mut now = start;
        let outcome = loop {
            // First a look: the woken poller often ran (and answered) at once, preempting us.
            // The answer comes in the task's slot (watched); anything else in the done-queue
            // waits for the hold's release.
            if task.answered_directly() {
                self.take_direct_answer(task);
            }
            // SAFETY: worker thread.
            if unsafe { task.side() }.waiter == Waiter::Posted {
                break Outcome::Hit(now - start);
            }
            if now - start >= budget {
                break Outcome::Miss;
            }
            yield_cpu();
            now = Instant::now();
        };
        let answered = matches!(outcome, Outcome::Hit(_)) || self.settle_watch(task);
        self.brief_waiting = None;
        self.yield_policy.record(outcome, now);
        done.release_hold(|t| self.on_done(t));
        // Log lines written during the hold did not write the eventfd.
        self.drain_logs();
        answered
    }

    /// Ends the watch of `task` (see `TaskPtr::watch`); true if its answer had come in the
    /// slot meanwhile, and was taken (the caller reads it without waiting).
    fn settle_watch(&mut self, task: TaskPtr) -> bool {
        if !task.unwatch() {
            return false;
        }
        self.take_direct_answer(task);
        true
    }

    /// The answer of `task`, waited for inside its call, came in its slot: the caller is
    /// awake and reads it without a semaphore post.
    fn take_direct_answer(&mut self, task: TaskPtr) {
        let before = self.brief_waiting.replace(task);
        self.on_answer(task);
        self.brief_waiting = before;
    }

    /// Spins for the answer of the call just posted, which the responder hands over in the
    /// task's slot (`TaskPtr::watch`): no done-queue, no eventfd, no Lua yield.
    fn spin_in_call(&mut self, task: TaskPtr, pickup_window: Duration) -> bool {
        let start = Instant::now();
        let Some(budget) = self.spin_policy.budget(start) else {
            return self.settle_watch(task);
        };
        let gaps = GapWatch::new(start);
        let mut now;
        let mut turn: u32 = 0;
        let outcome = loop {
            if task.answered_directly() {
                now = Instant::now();
                break Outcome::Hit(now - start);
            }
            turn = turn.wrapping_add(1);
            // The clock (a vDSO call that costs more than a look at the slot on some
            // virtual machines) every 8 turns.
            if turn % 8 != 0 {
                std::hint::spin_loop();
                continue;
            }
            now = Instant::now();
            if gaps.tick(now) {
                break Outcome::Descheduled;
            }
            if turn % 64 == 0 && task.is_queued() && now - start >= pickup_window {
                // No runtime thread took it after all: its pollers sleep or do not run.
                break Outcome::Abandoned;
            }
            if now - start >= budget {
                break Outcome::Miss;
            }
            if task.queue().is_some_and(|q| q.poller_shares_cpu()) {
                // The poller that takes the task shares our CPU: let it run.
                yield_cpu();
                continue;
            }
            std::hint::spin_loop();
        };
        self.spin_policy.record(outcome, now);
        if matches!(outcome, Outcome::Hit(_)) {
            self.take_direct_answer(task);
            return true;
        }
        self.settle_watch(task)
    }
}

/// How `wait_briefly` waits for a call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BriefWait {
    /// Spinning: a runtime thread runs on another CPU.
    Spin,
    /// Spinning, for a poller `post` woke (see `BACK_TO_BACK`).
    Woken,
    /// Nothing: `post` yielded the CPU to the runtime thread (both on one CPU) and the
    /// answer is there.
    Answered,
}

/// Gives the CPU to another runnable thread of this CPU (the runtime's), if there is one.
fn yield_cpu() {
    // SAFETY: no arguments, no memory; cannot fail on Linux.
    unsafe { libc::sched_yield() };
}

/// What `stream_next` found.
pub enum StreamNext {
    /// A chunk (valid until the next `stream_next` or the task's end).
    Chunk(*const u8, usize),
    /// Nothing yet: the reader waits on its semaphore, which the next chunk or the end posts.
    Wait,
    /// The stream ended: read the answer with `result` (the last bytes, or an error).
    End,
    /// Another coroutine waits for the next chunk on the semaphore: one reader at a time
    /// (a post wakes one waiter; a second one would be left on the semaphore).
    Busy,
}

/// Lua side: the next chunk of a stream call's answer, or what to do instead.
pub fn stream_next(task: TaskPtr) -> Option<StreamNext> {
    with(|w| {
        let stream = task.stream()?;
        // SAFETY: worker thread.
        let side = unsafe { task.side() };
        if let Some(chunk) = stream.pop() {
            side.chunk = chunk;
            return Some(StreamNext::Chunk(side.chunk.as_ptr(), side.chunk.len()));
        }
        side.chunk = Vec::new();
        match side.waiter {
            // (A reader killed while it waited left the semaphore: not busy any more.)
            // SAFETY: a Waiting task's semaphore is ours and live; worker thread.
            Waiter::Waiting if side.reader_waiting && unsafe { w.lua.count(side.sem) } < 0 => {
                Some(StreamNext::Busy)
            }
            Waiter::Waiting => {
                side.reader_waiting = true;
                Some(StreamNext::Wait)
            }
            // Answered, or the worker's exit deadline passed (`result` says so).
            Waiter::Posted | Waiter::Expired => {
                // Every chunk a runtime sent before it answered is in the stream already
                // (sends return before the answer): none is left behind.
                Some(StreamNext::End)
            }
            Waiter::Gone => None,
        }
    })
    .ok()
    .flatten()
}

/// Lua side, after its semaphore was posted: the answer (rc, bytes, len), valid until
/// [`finish`]; or None when the worker gave up on it while exiting (the task is then left
/// to be freed when its answer comes, and must not be finished).
pub fn result(task: TaskPtr) -> Option<(std::ffi::c_int, *const std::ffi::c_char, usize)> {
    with(|w| {
        if !w.apply(task, Event::Read).answer_readable {
            return None;
        }
        let answer = task.response();
        if let Some(stats) = task.queue().map(|q| &q.stats) {
            stats.count_answer(answer.0);
            let posted = task.times().0;
            if posted != 0 && telemetry::enabled() {
                stats
                    .total
                    .record(telemetry::monotonic_ns().saturating_sub(posted));
            }
        }
        Some(answer)
    })
    .unwrap_or(None)
}

/// Counts a caller that gave up on its call (the step told the runtime: `Cancel`).
fn count_given_up(task: TaskPtr, step: &waiter::Step, counter: impl Fn(&telemetry::RuntimeStats) -> &telemetry::Counter) {
    if step.actions.contains(&Action::Cancel) {
        if let Some(q) = task.queue() {
            counter(&q.stats).add(1);
        }
    }
}

/// Lua side, after it read the answer: frees the task.
pub fn finish(task: TaskPtr) {
    let _ = with(|w| w.apply(task, Event::Finished));
}

/// Lua side, after its wait ended without the answer (timeout, error): true if the
/// answer arrived after all (then read it and `finish`), false if the task is left to
/// be freed when it comes back.
pub fn abandon(task: TaskPtr) -> bool {
    with(|w| {
        w.wake_stream_reader(task);
        let step = w.apply(task, Event::Abandoned);
        count_given_up(task, &step, |s| &s.timeouts);
        step.answer_readable
    })
    .unwrap_or(false)
}

/// The task's request is being freed: its coroutine is gone.
pub fn waiter_gone(task: TaskPtr) {
    let _ = with(|w| {
        let step = w.apply(task, Event::RequestFreed);
        count_given_up(task, &step, |s| &s.gone);
    });
}

/// Tasks allocated and not yet freed in this worker.
pub fn live_tasks() -> usize {
    with(|w| w.live_tasks).unwrap_or(0)
}

/// Closes an unloaded `unpin` runtime's library once none of its threads is left. Not at
/// worker exit: the process ends anyway.
pub fn close_when_unused(pending: PendingClose) {
    let _ = with(|w| {
        w.pending_closes.push(pending);
        w.check_pending_closes();
    });
}

impl Worker {
    /// A stream closed (`abandon`) by another coroutine than the one waiting in its read
    /// (another light thread, another request): post the semaphore so that reader leaves it
    /// and finds the stream closed. Left on it, it would still wait there when the task is
    /// freed and the semaphore reused or handed back to lua-nginx-module (whose memory its
    /// wait-queue entry points into). A reader that timed out left the semaphore already.
    fn wake_stream_reader(&mut self, task: TaskPtr) {
        // SAFETY: worker thread; the waiter side is the worker's alone.
        let side = unsafe { task.side() };
        // SAFETY: a Waiting task's semaphore is ours and live.
        if side.is_stream
            && side.reader_waiting
            && side.waiter == Waiter::Waiting
            && !side.sem.is_null()
            && unsafe { self.lua.count(side.sem) } < 0
        {
            side.reader_waiting = false;
            // SAFETY: as above; its post is consumed by the waiting reader (clean).
            unsafe { self.lua.post(side.sem) };
        }
    }

    fn arm_sweeper(&mut self) {
        if self.sweeper.timer_set() == 0 {
            // SAFETY: worker thread; the event lives as long as the worker state.
            unsafe { ngx_add_timer(&mut *self.sweeper, SWEEP_MS) };
        }
    }

    /// A coroutine killed while it waited (ngx.thread.kill) runs no code of ours, and its
    /// request may go on for long: find such calls by their semaphore, which lua-nginx-module
    /// leaves without a waiter, and give up on them as a timeout does (the runtime is told).
    /// A Waiting task's coroutine is between `post` and its wait only inside one Lua call, so
    /// no timer handler sees that moment.
    fn sweep_vanished_waiters(&mut self) {
        let mut vanished = Vec::new();
        task::for_each_live(|task| {
            // SAFETY: worker thread; a Waiting task's semaphore is ours and live.
            let side = unsafe { task.side() };
            // (A stream's reader between two reads is not on its semaphore: not a sign.)
            let waits_on_sem = side.waiter == Waiter::Waiting
                && (!side.is_stream || side.reader_waiting)
                && !side.sem.is_null();
            // SAFETY: a Waiting task's semaphore is the worker's and live; worker thread.
            if waits_on_sem && unsafe { self.lua.count(side.sem) } == 0 {
                vanished.push(task);
            }
        });
        for task in vanished {
            let step = self.apply(task, Event::Abandoned);
            count_given_up(task, &step, |s| &s.gone);
        }
        if self.live_tasks > 0 {
            self.arm_sweeper();
        }
    }

    fn check_pending_closes(&mut self) {
        self.pending_closes.retain(|p| {
            // Calls the runtime still holds are answered by its code, maybe on a thread it
            // started for the call that has not called into the module yet (unrecorded).
            let users_left = p.queue.thread_users().is_some_and(|u| !u.all_exited())
                || p.queue.stats.live.get() > 0;
            if users_left && p.since.elapsed() < CLOSE_GIVE_UP {
                return true;
            }
            if users_left {
                ngx_log_error!(
                    NGX_LOG_INFO,
                    cycle_log(),
                    "resty_ffi: {} stays mapped: its runtime's threads still run {} s after the unload",
                    p.file,
                    CLOSE_GIVE_UP.as_secs()
                );
                return false;
            }
            // SAFETY: our own dlopen handle, closed once; no thread that may run the
            // library's code is left (see `unpin`).
            unsafe { libc::dlclose(p.handle as *mut std::ffi::c_void) };
            ngx_log_error!(
                NGX_LOG_INFO,
                cycle_log(),
                "resty_ffi: {} closed: its runtime's threads have exited",
                p.file
            );
            false
        });
        if !self.pending_closes.is_empty() && self.closer.timer_set() == 0 {
            // SAFETY: worker thread; the event lives as long as the worker state.
            unsafe { ngx_add_timer(&mut *self.closer, CLOSE_CHECK_MS) };
        }
    }
}

extern "C" fn on_eventfd_readable(ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        // SAFETY: nginx calls this with our connection's read event, whose data is the
        // connection. `close` set means nginx is exiting the worker (idle connections and
        // worker_shutdown_timeout); the eventfd stays in use until the process ends.
        let exiting = unsafe {
            let c = (*ev).data.cast::<ngx_connection_t>();
            let close = !c.is_null() && (*c).close() != 0;
            if close {
                (*c).set_close(0);
                (*c).set_error(0);
            }
            close
        };
        let _ = with(|w| {
            if exiting {
                w.begin_exit();
            }
            w.drain_done()
        });
    })
}

extern "C" fn on_stray_flush(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| w.log_stray_responds());
    })
}

extern "C" fn on_sweep(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| w.sweep_vanished_waiters());
    })
}

extern "C" fn on_close_check(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| w.check_pending_closes());
    })
}

extern "C" fn on_exit_deadline(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| w.expire_waiting());
    })
}

/// `worker_shutdown_timeout` of nginx.conf, if set.
fn shutdown_timeout() -> Option<ngx_msec_t> {
    // SAFETY: worker thread; the cycle's core configuration lives as long as the cycle.
    let ms = unsafe {
        let ctx = (*ngx_cycle).conf_ctx;
        let ccf = (*ctx.add(ngx_core_module.index)).cast::<ngx_core_conf_t>();
        if ccf.is_null() {
            return None;
        }
        (*ccf).shutdown_timeout
    };
    (ms > 0).then_some(ms)
}

extern "C" fn on_spin(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| {
            let done = w.done;
            let mut answers = 0usize;
            done.pop_each(|d| {
                answers += usize::from(matches!(d, Done::Answer(_)));
                w.on_done(d)
            });
            let now = Instant::now();
            let outcome = if w.spin_gaps.tick(now) {
                // The worker was off the CPU for a while: more runnable threads than CPUs.
                Some(Outcome::Descheduled)
            } else if answers > 0 {
                w.spin_policy.record(Outcome::Hit(now - w.spin_mark), now);
                w.spin_mark = now;
                None
            } else if !w.spin_probe
                && w.spin_watch
                    .is_some_and(|(t, at)| t.is_queued() && now - at >= PICKUP_WINDOW)
            {
                // No runtime thread took the last call: its pollers sleep or do not run.
                Some(Outcome::Abandoned)
            } else if w.spin_until.is_some_and(|until| now >= until) {
                Some(Outcome::Miss)
            } else if w.live_tasks == 0 {
                Some(Outcome::Abandoned)
            } else {
                None
            };
            if let Some(outcome) = outcome {
                w.spin_policy.record(outcome, now);
            }
            let more = outcome.is_none() && w.live_tasks > 0;
            if more {
                // SAFETY: worker thread; the spinner lives as long as the worker state.
                unsafe { ngx_post_event(&mut *w.spinner, ptr::addr_of_mut!(ngx_posted_next_events)) };
            } else {
                w.spin_until = None;
                w.spin_watch = None;
                // Give the wake-up duty back to the eventfd, and take what came meanwhile.
                w.drain_done();
            }
        });
    })
}

extern "C" fn on_loop_marker(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| w.in_call_streak = None);
    })
}

extern "C" fn on_waker(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| {
            let pending = std::mem::take(&mut w.pending_wakes);
            w.wake_and_yield(&pending);
        });
    })
}

extern "C" fn on_reaper(_ev: *mut ngx_event_t) {
    crate::panic_guard::guard((), || {
        let _ = with(|w| {
            for sem in std::mem::take(&mut w.dirty_sems) {
                w.all_sems.remove(&sem);
                // SAFETY: every event posted before the reaper (lua-nginx-module's
                // semaphore event among them) has run; the semaphore has no waiter.
                unsafe { w.lua.destroy(sem) };
            }
        });
    })
}
