//! When to spin instead of sleeping, and for how long: one policy for the worker (waiting for
//! answers) and for runtime pollers (waiting for tasks).
//!
//! Spinning wins when the other side answers within the spin: a futex or epoll wake-up costs
//! more than the whole call on an idle machine. It loses everywhere else: on a busy machine the
//! spinning thread takes the CPU the other side needs, and at a low call rate every spin runs
//! to its end for nothing. So, as glibc's adaptive mutexes and the kernel's optimistic spinning
//! do, spin only while it is seen to pay:
//! - never on a thread that may run on one CPU only (it would spin against the thread it
//!   waits for);
//! - the budget follows what the spins achieve: a spin that ends with what it waited for sets
//!   the budget to at least twice the wait and wins back a sixteenth of what it lacks; one
//!   that runs out takes a quarter off; under 2 µs
//!   the thread stops spinning and probes again with a whole spin after `PROBE_AFTER`;
//! - what came soon after the spin gave up (within `MAX_SPIN` of the wait's start) counts as
//!   a hit, and ends a pause that misses began: calls that come close together again;
//! - a thread that was descheduled while it spun (a gap in its clock readings) twice in a row
//!   while the machine has more runnable threads than CPUs (/proc/loadavg) stops spinning for `BACKOFF`,
//!   doubled each time again. Descheduled with CPUs to spare, it shared a CPU with the thread
//!   it waits for: spinning on keeps it runnable, so the kernel moves one of them to a free CPU;
//! - the worker also stops as soon as the runtime is seen not to pick its task up (see
//!   `worker::on_spin`).

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest spin.
pub const MAX_SPIN: Duration = Duration::from_micros(50);
/// The budget a probe starts with: the whole spin, since the other side may be asleep and
/// slow to answer when the probe starts (only if both spin is a call fast).
const PROBE_SPIN: Duration = MAX_SPIN;
/// After the budget fell to zero, how long until a probe.
const PROBE_AFTER: Duration = Duration::from_millis(200);
/// A gap this long between two clock readings of a spinning thread means it was descheduled.
pub const DESCHEDULED_GAP: Duration = Duration::from_micros(20);
/// No spinning after a descheduled spin, doubled on each one in a row, up to `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long the worker waits for a runtime to pick a task up before it stops spinning.
pub const PICKUP_WINDOW: Duration = Duration::from_micros(5);

/// How a spin ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// What it waited for came, after this long.
    Hit(Duration),
    /// The budget ran out.
    Miss,
    /// The thread was descheduled while spinning.
    Descheduled,
    /// What it waited for came after it had stopped spinning (or without a spin, paused),
    /// this long after the wait began.
    Late(Duration),
    /// Stopped early for another reason (nothing learnt about the budget).
    Abandoned,
}

/// One thread's spin policy.
#[derive(Debug)]
pub struct SpinPolicy {
    budget: Duration,
    /// No spinning before this instant.
    paused_until: Option<Instant>,
    /// The pause is for a busy machine (a descheduled spin), not for spins that missed.
    paused_for_load: bool,
    backoff: Duration,
    /// Spins descheduled in a row (a hit or a miss ends the row).
    descheduled_row: u8,
    /// The last time `probe_due` said yes.
    last_probe: Option<Instant>,
    /// Waits by yielding the CPU (one CPU for both sides), not by spinning: allowed on one
    /// CPU, and being descheduled is the point.
    yielding: bool,
}

impl Default for SpinPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl SpinPolicy {
    pub const fn new() -> Self {
        SpinPolicy {
            budget: MAX_SPIN,
            paused_until: None,
            paused_for_load: false,
            backoff: BACKOFF,
            descheduled_row: 0,
            last_probe: None,
            yielding: false,
        }
    }

    /// The policy of a wait that yields the CPU to the other side (both on one CPU).
    pub const fn yielding() -> Self {
        let mut p = Self::new();
        p.yielding = true;
        p
    }

    /// True at most once per `PROBE_AFTER`, when spinning is allowed at all: time to try a
    /// spin even though the other side does not look ready (both sides asleep is a state that
    /// never ends by itself: each waits for the other to spin first).
    pub fn probe_due(&mut self, now: Instant) -> bool {
        if self
            .last_probe
            .is_some_and(|t| now.saturating_duration_since(t) < PROBE_AFTER)
        {
            return false;
        }
        if self.budget(now).is_none() {
            return false;
        }
        self.last_probe = Some(now);
        true
    }

    /// Spinning is paused because the machine is busy (a spin was descheduled while more
    /// threads were runnable than CPUs): the thread it waits for may share its CPU.
    pub fn crowded(&self, now: Instant) -> bool {
        self.paused_for_load && self.paused_until.is_some_and(|until| now < until)
    }

    /// The budget for a spin starting `now`, None: do not spin (sleep at once).
    pub fn budget(&mut self, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused_until {
            if now < until {
                return None;
            }
            self.paused_until = None;
            if self.budget.is_zero() {
                self.budget = PROBE_SPIN;
            }
        }
        if self.budget.is_zero() || (!self.yielding && !crate::queue::may_run_on_several_cpus()) {
            return None;
        }
        Some(self.budget)
    }

    /// Learns from a spin that ended at `now`.
    pub fn record(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Hit(waited) => {
                // Each hit also wins back a sixteenth of what the budget lacks: spins that
                // pay a thousand times for each one that runs out must not die out (misses
                // alone take it to zero in a dozen).
                let grown = self.budget + (MAX_SPIN - self.budget) / 16;
                self.budget = grown.max(waited * 2 + Duration::from_micros(2)).min(MAX_SPIN);
                self.backoff = BACKOFF;
                self.descheduled_row = 0;
            }
            Outcome::Miss => {
                self.descheduled_row = 0;
                // Gently: one late answer must not stop a spin that usually pays.
                self.budget = self.budget * 3 / 4;
                if self.budget < Duration::from_micros(2) {
                    self.budget = Duration::ZERO;
                    self.paused_until = Some(now + PROBE_AFTER);
                    self.paused_for_load = false;
                }
            }
            Outcome::Descheduled if self.yielding || !machine_oversubscribed() => {}
            // Once is chance (a virtual CPU the hypervisor took away for a moment, a
            // short-lived thread): twice in a row, the machine is busy.
            Outcome::Descheduled if self.descheduled_row == 0 => self.descheduled_row = 1,
            Outcome::Descheduled => {
                self.paused_until = Some(now + self.backoff);
                self.paused_for_load = true;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
            // Within the longest spin: spinning would have saved the wake-up. A pause for
            // misses ends (the calls come close together again); one for load does not.
            Outcome::Late(waited) if waited <= MAX_SPIN => {
                if !self.paused_for_load {
                    self.paused_until = None;
                }
                self.budget = self.budget.max(waited * 2 + Duration::from_micros(2)).min(MAX_SPIN);
            }
            Outcome::Late(_) | Outcome::Abandoned => {}
        }
    }
}

/// CLOCK_MONOTONIC_COARSE in ns: a few ns to read, a few ms of resolution; for caches that
/// are refreshed every few ms (a clock read per call adds up on the call's path).
pub fn coarse_now_ns() -> u64 {
    crate::telemetry::clock_ns(libc::CLOCK_MONOTONIC_COARSE)
}

/// How often the machine's runnable-thread count is read.
const LOAD_SAMPLE: Duration = Duration::from_millis(5);

/// Whether more threads are runnable on the machine than this process may use CPUs
/// (/proc/loadavg's running count, read at most every `LOAD_SAMPLE`; false when unknown).
pub fn machine_oversubscribed() -> bool {
    struct Load {
        file: Option<File>,
        cpus: usize,
        /// When it was read last (coarse clock ns, +1; 0: never) and what it said.
        read_at: AtomicU64,
        over: AtomicBool,
    }
    static LOAD: OnceLock<Load> = OnceLock::new();
    let load = LOAD.get_or_init(|| Load {
        file: File::open("/proc/loadavg").ok(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        read_at: AtomicU64::new(0),
        over: AtomicBool::new(false),
    });
    let now = coarse_now_ns() + 1;
    let at = load.read_at.load(Ordering::Relaxed);
    if at != 0 && now - at < LOAD_SAMPLE.as_nanos() as u64 {
        return load.over.load(Ordering::Relaxed);
    }
    load.read_at.store(now, Ordering::Relaxed);
    let mut buf = [0u8; 128];
    let n = load
        .file
        .as_ref()
        .and_then(|f| f.read_at(&mut buf, 0).ok())
        .unwrap_or(0);
    // "0.36 0.70 1.02 1/84 2102": the fourth field is runnable/total.
    let running = std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|t| t.split_whitespace().nth(3))
        .and_then(|f| f.split('/').next())
        .and_then(|r| r.parse::<usize>().ok());
    let over = running.is_some_and(|r| r > load.cpus);
    load.over.store(over, Ordering::Relaxed);
    over
}

/// Detects that a spinning thread was descheduled: call `tick` with each clock reading.
pub struct GapWatch {
    last: Cell<Instant>,
}

impl GapWatch {
    pub fn new(now: Instant) -> Self {
        GapWatch { last: Cell::new(now) }
    }

    /// True if the time since the previous reading shows the thread did not run meanwhile.
    pub fn tick(&self, now: Instant) -> bool {
        let gap = now.saturating_duration_since(self.last.get());
        self.last.set(now);
        gap >= DESCHEDULED_GAP
    }
}

/// Like [`GapWatch`], for a thread that does other work between its readings (the worker
/// runs Lua between two polls): a long gap counts only if the thread's own CPU time did not
/// grow with it, i.e. it was off the CPU. The CPU clock (a system call) is read only then.
pub struct BusyGapWatch {
    last: Cell<Instant>,
    /// Wall and thread CPU time at the last CPU reading.
    reading: Cell<(Instant, Duration)>,
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec we own; CLOCK_THREAD_CPUTIME_ID always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

impl BusyGapWatch {
    pub fn new(now: Instant) -> Self {
        BusyGapWatch {
            last: Cell::new(now),
            reading: Cell::new((now, thread_cpu_time())),
        }
    }

    /// True if the thread was off the CPU for `DESCHEDULED_GAP` or more since the last look.
    pub fn tick(&self, now: Instant) -> bool {
        let gap = now.saturating_duration_since(self.last.get());
        self.last.set(now);
        if gap < DESCHEDULED_GAP {
            return false;
        }
        let cpu = thread_cpu_time();
        let (wall0, cpu0) = self.reading.replace((now, cpu));
        let wall = now.saturating_duration_since(wall0);
        wall.saturating_sub(cpu.saturating_sub(cpu0)) >= DESCHEDULED_GAP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn several_cpus() -> bool {
        crate::queue::may_run_on_several_cpus()
    }

    #[test]
    fn misses_shrink_the_budget_to_zero_then_a_probe_follows() {
        if !several_cpus() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        assert_eq!(p.budget(t0), Some(MAX_SPIN));
        for _ in 0..20 {
            p.record(Outcome::Miss, t0);
        }
        assert_eq!(p.budget(t0), None);
        assert_eq!(p.budget(t0 + PROBE_AFTER), Some(PROBE_SPIN));
    }

    #[test]
    fn hits_grow_the_budget_to_twice_the_wait() {
        if !several_cpus() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        for _ in 0..4 {
            p.record(Outcome::Miss, t0);
        }
        let small = p.budget(t0).unwrap();
        p.record(Outcome::Hit(Duration::from_micros(10)), t0);
        assert_eq!(p.budget(t0), Some(Duration::from_micros(22)).max(Some(small)));
        p.record(Outcome::Hit(Duration::from_micros(400)), t0);
        assert_eq!(p.budget(t0), Some(MAX_SPIN));
    }

    #[test]
    fn the_load_file_is_read() {
        // Whatever the machine does, the answer comes from /proc/loadavg and is cached.
        let a = machine_oversubscribed();
        let b = machine_oversubscribed();
        assert_eq!(a, b);
    }

    #[test]
    fn descheduling_pauses_with_a_growing_backoff() {
        if !several_cpus() || !machine_oversubscribed() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        p.record(Outcome::Descheduled, t0);
        assert!(p.budget(t0).is_some(), "once is chance");
        p.record(Outcome::Descheduled, t0);
        assert_eq!(p.budget(t0 + BACKOFF / 2), None);
        assert!(p.budget(t0 + BACKOFF).is_some());
        let t1 = t0 + BACKOFF;
        p.record(Outcome::Descheduled, t1);
        assert_eq!(p.budget(t1 + BACKOFF), None);
        assert!(p.budget(t1 + 2 * BACKOFF).is_some());
        let t2 = t1 + 2 * BACKOFF;
        p.record(Outcome::Hit(Duration::from_micros(1)), t2);
        p.record(Outcome::Descheduled, t2);
        assert!(p.budget(t2).is_some(), "a hit ends the row");
        p.record(Outcome::Descheduled, t2);
        assert!(p.budget(t2 + BACKOFF).is_some(), "a hit resets the backoff");
    }

    #[test]
    fn busy_gaps_are_not_descheduling_but_sleeps_are() {
        // A busy stretch may itself be preempted on a loaded machine: one clean try is enough.
        let busy_seen_as_busy = (0..50).any(|_| {
            let w = BusyGapWatch::new(Instant::now());
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_micros(500) {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            !w.tick(Instant::now())
        });
        assert!(busy_seen_as_busy);
        let w = BusyGapWatch::new(Instant::now());
        std::thread::sleep(Duration::from_millis(2));
        assert!(w.tick(Instant::now()));
    }

    #[test]
    fn a_yielding_wait_is_allowed_on_one_cpu_and_not_paused_by_descheduling() {
        // Yielding is being descheduled on purpose: only misses shrink its budget.
        let mut p = SpinPolicy::yielding();
        let t0 = Instant::now();
        assert_eq!(p.budget(t0), Some(MAX_SPIN));
        for _ in 0..5 {
            p.record(Outcome::Descheduled, t0);
        }
        assert_eq!(p.budget(t0), Some(MAX_SPIN));
        for _ in 0..20 {
            p.record(Outcome::Miss, t0);
        }
        assert_eq!(p.budget(t0), None);
        assert_eq!(p.budget(t0 + PROBE_AFTER), Some(PROBE_SPIN));
    }

    #[test]
    fn probes_come_at_most_once_per_interval() {
        if !several_cpus() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        assert!(p.probe_due(t0));
        assert!(!p.probe_due(t0 + PROBE_AFTER / 2));
        assert!(p.probe_due(t0 + PROBE_AFTER));
    }

    #[test]
    fn an_answer_soon_after_the_spin_gave_up_ends_a_pause_for_misses_only() {
        if !several_cpus() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        for _ in 0..20 {
            p.record(Outcome::Miss, t0);
        }
        assert_eq!(p.budget(t0), None);
        p.record(Outcome::Late(MAX_SPIN * 4), t0);
        assert_eq!(p.budget(t0), None, "too late: spinning would not have caught it");
        p.record(Outcome::Late(Duration::from_micros(5)), t0);
        assert_eq!(p.budget(t0), Some(Duration::from_micros(12)));
        // Paused for load: a late answer does not end it.
        p.paused_until = Some(t0 + BACKOFF);
        p.paused_for_load = true;
        p.record(Outcome::Late(Duration::from_micros(5)), t0);
        assert_eq!(p.budget(t0), None);
    }

    #[test]
    fn gaps_are_seen() {
        let t0 = Instant::now();
        let w = GapWatch::new(t0);
        assert!(!w.tick(t0 + Duration::from_micros(1)));
        assert!(w.tick(t0 + Duration::from_micros(1) + DESCHEDULED_GAP));
    }
}
