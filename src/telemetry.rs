//! The bridge's own numbers, per loaded runtime: what became of its calls, and where their
//! time went (in the queue, in the runtime, in all).
//!
//! Every number is written by the nginx worker thread alone (a single writer: a plain load
//! and store, no locked instruction), from what it sees anyway: a call posted, an answer
//! popped from the done-queue (with the times the runtime thread stamped into the task when
//! it took it and when it answered), the coroutine reading it, a timeout, a request gone.
//! Runtime threads only stamp two clock readings into the task. Readers (stats, metrics)
//! run on the worker thread too. The histogram buckets are fixed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Telemetry on (the default) or off (no clock readings, nothing counted).
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// The time now as an `Instant` and as CLOCK_MONOTONIC ns, from one clock read (`Instant` is
/// CLOCK_MONOTONIC on Linux: the ns are the process-wide base's plus the elapsed time).
pub fn now_with_ns() -> (std::time::Instant, u64) {
    static BASE: std::sync::OnceLock<(std::time::Instant, u64)> = std::sync::OnceLock::new();
    let (base, base_ns) = *BASE.get_or_init(|| (std::time::Instant::now(), monotonic_ns()));
    let now = std::time::Instant::now();
    let ns = base_ns.saturating_add(now.saturating_duration_since(base).as_nanos() as u64);
    (now, ns)
}

/// CLOCK_MONOTONIC in nanoseconds (also the clock of runtime deadlines).
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// A clock's time in ns (`clock`: CLOCK_MONOTONIC or CLOCK_MONOTONIC_COARSE).
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec we own; both monotonic clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec.max(0) as u64)
}

/// A count written by one thread only.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub fn sub(&self, n: u64) {
        self.0
            .store(self.0.load(Ordering::Relaxed).saturating_sub(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the histogram buckets, in ns (10 µs .. 10 s; the last bucket is +Inf).
pub const BUCKETS_NS: [u64; 19] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Durations in fixed buckets (not cumulative here; Prometheus' are made when rendered).
#[derive(Default)]
pub struct Histogram {
    buckets: [Counter; BUCKETS_NS.len() + 1],
    sum_ns: Counter,
    count: Counter,
}

impl Histogram {
    pub fn record(&self, ns: u64) {
        let i = BUCKETS_NS.partition_point(|&b| b < ns);
        self.buckets[i].add(1);
        self.sum_ns.add(ns);
        self.count.add(1);
    }
}

/// Reserved answer codes counted one by one: -1 .. -5 (abi/resty_ffi.h).
pub const RESERVED_CODES: [&str; 5] = ["error", "panicked", "dropped", "no_memory", "cancelled"];

/// One runtime's numbers in this worker.
#[derive(Default)]
pub struct RuntimeStats {
    /// Calls queued.
    pub calls: Counter,
    /// Answers read by their coroutine: rc 0, rc > 0 (the runtime's own codes), each
    /// reserved code, other negative codes.
    pub ok: Counter,
    pub runtime_errors: Counter,
    pub reserved: [Counter; RESERVED_CODES.len()],
    pub other_negative: Counter,
    /// Callers that gave up: their timeout; their request ended or their light thread was
    /// killed; the worker's exit deadline.
    pub timeouts: Counter,
    pub gone: Counter,
    pub exiting: Counter,
    /// Calls refused: the queue was full; the runtime was unloaded.
    pub queue_full: Counter,
    pub unloaded: Counter,
    /// Calls queued and not yet freed (answered and read, or given up and answered).
    pub live: Counter,
    /// Post to taken by a runtime thread; taken to answered; post to read by Lua.
    pub queue_wait: Histogram,
    pub service: Histogram,
    pub total: Histogram,
}

impl RuntimeStats {
    /// Counts an answer read by its coroutine.
    pub fn count_answer(&self, rc: i32) {
        match rc {
            0 => self.ok.add(1),
            rc if rc > 0 => self.runtime_errors.add(1),
            rc => match usize::try_from(-(i64::from(rc)) - 1)
                .ok()
                .and_then(|i| self.reserved.get(i))
            {
                Some(c) => c.add(1),
                None => self.other_negative.add(1),
            },
        }
    }

    /// Appends this runtime's numbers as text lines (see `write_text`'s format).
    fn write_lines(&self, out: &mut String, queue_depth: u64) {
        use std::fmt::Write;
        let mut c = |name: &str, v: u64| {
            let _ = writeln!(out, "c\t{name}\t{v}");
        };
        c("calls", self.calls.get());
        c("ok", self.ok.get());
        c("runtime_error", self.runtime_errors.get());
        for (name, n) in RESERVED_CODES.iter().zip(&self.reserved) {
            c(name, n.get());
        }
        c("other_negative", self.other_negative.get());
        c("timeout", self.timeouts.get());
        c("gone", self.gone.get());
        c("exiting", self.exiting.get());
        c("queue_full", self.queue_full.get());
        c("unloaded", self.unloaded.get());
        let _ = writeln!(out, "g\tlive\t{}", self.live.get());
        let _ = writeln!(out, "g\tqueue_depth\t{queue_depth}");
        for (name, h) in [
            ("queue_wait", &self.queue_wait),
            ("service", &self.service),
            ("total", &self.total),
        ] {
            let _ = write!(out, "h\t{name}\t{}\t{}", h.count.get(), h.sum_ns.get());
            for b in &h.buckets {
                let _ = write!(out, "\t{}", b.get());
            }
            out.push('\n');
        }
    }
}

/// Escapes tabs, newlines and '%' (lib and cfg are the user's strings) as %XX.
fn escape(s: &[u8], out: &mut String) {
    for &b in s {
        match b {
            b'\t' | b'\n' | b'\r' | b'%' => out.push_str(&format!("%{b:02X}")),
            _ => out.push(char::from(b)),
        }
    }
}

/// The numbers of every runtime given, as text for lua/resty/ffi.lua:
///
/// ```text
/// runtime <TAB> lib <TAB> cfg <TAB> 0|1 (cfg given)     one per runtime, then its lines:
/// c <TAB> name <TAB> count                             counters
/// g <TAB> name <TAB> value                             gauges
/// h <TAB> name <TAB> count <TAB> sum_ns <TAB> b0 .. b19   histograms, per bucket (not cumulative)
/// ```
///
/// lib and cfg have tabs, newlines and '%' escaped as %XX; bytes beyond ASCII pass as they
/// are (as Latin-1 chars, so the text stays one byte per byte).
pub fn write_text<'a>(
    runtimes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>, &'a RuntimeStats, u64)>,
) -> Vec<u8> {
    let mut out = String::new();
    for (lib, cfg, stats, depth) in runtimes {
        out.push_str("runtime\t");
        escape(lib, &mut out);
        out.push('\t');
        escape(cfg.unwrap_or_default(), &mut out);
        out.push_str(if cfg.is_some() { "\t1\n" } else { "\t0\n" });
        stats.write_lines(&mut out, depth);
    }
    // Latin-1 back to bytes: every char is below 256 by construction.
    out.chars().map(|c| c as u32 as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_take_durations_up_to_their_bound() {
        let h = Histogram::default();
        h.record(0);
        h.record(10_000);
        h.record(10_001);
        h.record(u64::MAX / 2);
        assert_eq!(h.buckets[0].get(), 2);
        assert_eq!(h.buckets[1].get(), 1);
        assert_eq!(h.buckets[BUCKETS_NS.len()].get(), 1);
        assert_eq!(h.count.get(), 4);
    }

    #[test]
    fn answers_are_counted_by_kind() {
        let s = RuntimeStats::default();
        for rc in [0, 0, 7, -1, -2, -5, -6, i32::MIN] {
            s.count_answer(rc);
        }
        assert_eq!(s.ok.get(), 2);
        assert_eq!(s.runtime_errors.get(), 1);
        assert_eq!(s.reserved[0].get(), 1);
        assert_eq!(s.reserved[1].get(), 1);
        assert_eq!(s.reserved[4].get(), 1);
        assert_eq!(s.other_negative.get(), 2);
    }

    #[test]
    fn text_escapes_the_users_strings() {
        let s = RuntimeStats::default();
        s.calls.add(3);
        let text = write_text(std::iter::once((&b"a\tb"[..], Some(&b"x%\n\xff"[..]), &s, 5)));
        let text = String::from_utf8_lossy(&text).into_owned();
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(first, "runtime\ta%09b\tx%25%0A\u{fffd}\t1");
        assert!(text.contains("c\tcalls\t3\n"));
        assert!(text.contains("g\tqueue_depth\t5\n"));
        assert!(text.contains("h\ttotal\t0\t0"));
    }
}
