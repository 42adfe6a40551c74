//! CPU time consumed so far by whole processes, in nanoseconds.
//!
//! ```text
//! bench-cputime <pid> [<pid> ...]
//! ```
//!
//! Prints one line per pid: `pid=<pid> cpu_ns=<ns>` (`cpu_ns=-` if the process is gone). The
//! figure is the process's CPU-time clock (`clock_getcpuclockid` + `clock_gettime`): user and
//! system time of all its threads, including exited ones, the same sum as utime + stime in
//! /proc/<pid>/stat, in nanoseconds instead of 10 ms clock ticks.

use std::process::ExitCode;

/// The CPU time of process `pid` in ns, or None if it cannot be read (gone, not permitted).
fn process_cpu_ns(pid: libc::pid_t) -> Option<u128> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: writes one clockid_t into a live local.
    if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
        return None;
    }
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec into a live local.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

fn main() -> ExitCode {
    let pids: Vec<String> = std::env::args().skip(1).collect();
    if pids.is_empty() {
        eprintln!("usage: bench-cputime <pid> [<pid> ...]");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for arg in pids {
        let pid: libc::pid_t = match arg.parse() {
            Ok(p) if p > 0 => p,
            _ => {
                eprintln!("bench-cputime: not a pid: {arg}");
                status = ExitCode::from(2);
                continue;
            }
        };
        match process_cpu_ns(pid) {
            Some(ns) => println!("pid={pid} cpu_ns={ns}"),
            None => println!("pid={pid} cpu_ns=-"),
        }
    }
    status
}
