//! The floor: what one cross-thread call costs with nothing but the hardware and the kernel.
//!
//! Two threads ping-pong over two eventfds, carrying the payload the way the bridge does:
//! the caller copies the payload into a request buffer and writes the request eventfd; the
//! responder wakes, copies the request into a response buffer and writes the response
//! eventfd; the caller wakes and copies the response out. Three copies and two wake-ups per
//! round trip, as a bridge call (request copy, runtime's answer, the Lua string).
//!
//! ```text
//! bench-floor [--sizes 512,4096,10240,102400] [--iters 20000]
//! ```
//!
//! Prints one line per size:
//! `size=<bytes> iters=<n> ns_per_round_trip=<ns> cpu_ns_per_round_trip=<ns>`, the second
//! figure being the CPU time of the whole process (both threads, `CLOCK_PROCESS_CPUTIME_ID`)
//! over the timed round trips, divided by their number. Run it under `taskset -c 0` for the
//! one-core figure (both threads inherit the affinity).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

/// A blocking eventfd: `signal` adds one, `wait` blocks until the counter is non-zero and
/// resets it.
struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new fd we own.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nothing else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn signal(&self) -> io::Result<()> {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live u64 to an fd we own.
            let n = unsafe {
                libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8)
            };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    fn wait(&self) -> io::Result<()> {
        let mut count: u64 = 0;
        loop {
            // SAFETY: reads 8 bytes into a live u64 from an fd we own.
            let n = unsafe {
                libc::read(self.0.as_raw_fd(), (&mut count as *mut u64).cast(), 8)
            };
            if n == 8 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// What the two threads share. The eventfds hand the buffers over, so each lock is taken
/// by one thread at a time and never waits (it only makes the hand-over safe Rust).
struct Channel {
    request: Mutex<Vec<u8>>,
    response: Mutex<Vec<u8>>,
    request_ready: EventFd,
    response_ready: EventFd,
    stop: AtomicBool,
}

fn lock(m: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The responder thread: the runtime's side.
fn respond_until_stopped(ch: &Channel) -> io::Result<()> {
    loop {
        ch.request_ready.wait()?;
        if ch.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        {
            let req = lock(&ch.request);
            let mut rsp = lock(&ch.response);
            rsp.clear();
            rsp.extend_from_slice(&req);
        }
        ch.response_ready.signal()?;
    }
}

/// One round trip from the caller's side; the answer lands in `out`.
fn round_trip(ch: &Channel, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    {
        let mut req = lock(&ch.request);
        req.clear();
        req.extend_from_slice(payload);
    }
    ch.request_ready.signal()?;
    ch.response_ready.wait()?;
    let rsp = lock(&ch.response);
    out.clear();
    out.extend_from_slice(&rsp);
    Ok(())
}

/// CPU time of this process (all its threads) so far, in nanoseconds.
fn process_cpu_ns() -> io::Result<u128> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec into a live local.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

/// Mean wall-clock and CPU nanoseconds per round trip over `iters`, after a warm-up of a
/// tenth of that.
fn measure(ch: &Channel, size: usize, iters: u64) -> io::Result<(f64, f64)> {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut out = Vec::with_capacity(size);
    for _ in 0..(iters / 10).max(1) {
        round_trip(ch, &payload, &mut out)?;
    }
    let cpu_start = process_cpu_ns()?;
    let start = Instant::now();
    for _ in 0..iters {
        round_trip(ch, &payload, &mut out)?;
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu_ns()?.saturating_sub(cpu_start);
    if out != payload {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "echo mismatch"));
    }
    Ok((elapsed.as_nanos() as f64 / iters as f64, cpu as f64 / iters as f64))
}

fn parse_args() -> Result<(Vec<usize>, u64), String> {
    let mut sizes = vec![512, 4096, 10240, 102400];
    let mut iters = 20000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--sizes" => {
                sizes = value
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("--sizes: bad size {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--iters" => {
                iters = value.parse().map_err(|_| format!("--iters: not a number: {value}"))?
            }
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    if iters == 0 || sizes.is_empty() {
        return Err("need at least one size and one iteration".into());
    }
    Ok((sizes, iters))
}

fn run(sizes: &[usize], iters: u64) -> io::Result<()> {
    let ch = Arc::new(Channel {
        request: Mutex::new(Vec::new()),
        response: Mutex::new(Vec::new()),
        request_ready: EventFd::new()?,
        response_ready: EventFd::new()?,
        stop: AtomicBool::new(false),
    });
    let responder = {
        let ch = ch.clone();
        thread::Builder::new().name("floor-responder".into()).spawn(move || respond_until_stopped(&ch))?
    };

    let mut result = Ok(());
    for &size in sizes {
        match measure(&ch, size, iters) {
            Ok((ns, cpu_ns)) => println!(
                "size={size} iters={iters} ns_per_round_trip={ns:.1} cpu_ns_per_round_trip={cpu_ns:.1}"
            ),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }

    ch.stop.store(true, Ordering::Release);
    ch.request_ready.signal()?;
    match responder.join() {
        Ok(r) => r?,
        Err(_) => return Err(io::Error::other("the responder thread panicked")),
    }
    result
}

fn main() -> ExitCode {
    let (sizes, iters) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-floor: {e}");
            eprintln!("usage: bench-floor [--sizes 512,4096,10240,102400] [--iters N]");
            return ExitCode::from(2);
        }
    };
    match run(&sizes, iters) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
