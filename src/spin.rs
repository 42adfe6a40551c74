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
//!   the budget to about twice the wait; one that runs out halves it; at zero the thread stops
//!   spinning and probes again with a small budget after `PROBE_AFTER`;
//! - a thread that was descheduled while it spun (a gap in its clock readings: the machine has
//!   more runnable threads than CPUs) stops spinning for `BACKOFF`, doubled each time again;
//! - the worker also stops as soon as the runtime is seen not to pick its task up (see
//!   `worker::on_spin`).

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The longest spin.
pub const MAX_SPIN: Duration = Duration::from_micros(50);
/// The budget a probe starts with.
const PROBE_SPIN: Duration = Duration::from_micros(8);
/// After the budget fell to zero, how long until a probe.
const PROBE_AFTER: Duration = Duration::from_millis(50);
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
    /// Stopped early for another reason (nothing learnt about the budget).
    Abandoned,
}

/// One thread's spin policy.
#[derive(Debug)]
pub struct SpinPolicy {
    budget: Duration,
    /// No spinning before this instant.
    paused_until: Option<Instant>,
    backoff: Duration,
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
            backoff: BACKOFF,
        }
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
        if self.budget.is_zero() || !crate::queue::may_run_on_several_cpus() {
            return None;
        }
        Some(self.budget)
    }

    /// Learns from a spin that ended at `now`.
    pub fn record(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Hit(waited) => {
                self.budget = (waited * 2 + Duration::from_micros(2)).clamp(self.budget, MAX_SPIN);
                self.backoff = BACKOFF;
            }
            Outcome::Miss => {
                self.budget /= 2;
                if self.budget < Duration::from_micros(2) {
                    self.budget = Duration::ZERO;
                    self.paused_until = Some(now + PROBE_AFTER);
                }
            }
            Outcome::Descheduled => {
                self.paused_until = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
            Outcome::Abandoned => {}
        }
    }
}

/// Detects that a spinning thread was descheduled: call `tick` with each clock reading.
pub struct GapWatch {
    last: Cell<Instant>,
}

impl GapWatch {
    pub fn new(now: Instant) -> Self {
        GapWatch {
            last: Cell::new(now),
        }
    }

    /// True if the time since the previous reading shows the thread did not run meanwhile.
    pub fn tick(&self, now: Instant) -> bool {
        let gap = now.saturating_duration_since(self.last.get());
        self.last.set(now);
        gap >= DESCHEDULED_GAP
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
        for _ in 0..10 {
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
    fn descheduling_pauses_with_a_growing_backoff() {
        if !several_cpus() {
            return;
        }
        let mut p = SpinPolicy::new();
        let t0 = Instant::now();
        p.record(Outcome::Descheduled, t0);
        assert_eq!(p.budget(t0 + BACKOFF / 2), None);
        assert!(p.budget(t0 + BACKOFF).is_some());
        let t1 = t0 + BACKOFF;
        p.record(Outcome::Descheduled, t1);
        assert_eq!(p.budget(t1 + BACKOFF), None);
        assert!(p.budget(t1 + 2 * BACKOFF).is_some());
        p.record(Outcome::Hit(Duration::from_micros(1)), t1 + 2 * BACKOFF);
        p.record(Outcome::Descheduled, t1 + 2 * BACKOFF);
        assert!(p.budget(t1 + 3 * BACKOFF).is_some(), "a hit resets the backoff");
    }

    #[test]
    fn gaps_are_seen() {
        let t0 = Instant::now();
        let w = GapWatch::new(t0);
        assert!(!w.tick(t0 + Duration::from_micros(1)));
        assert!(w.tick(t0 + Duration::from_micros(1) + DESCHEDULED_GAP));
    }
}
