//! The contender of the `contended` mode: one thread that spins on the CPU and does nothing
//! else, so the benchmark's processes share the machine with a busy neighbour.
//!
//! ```text
//! bench-busy [--max-seconds S]
//! ```
//!
//! bench/run.sh starts it unpinned before the contended rows and kills it after them. It
//! exits by itself after `--max-seconds` (600) so a forgotten spinner cannot run for long.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn parse_args() -> Result<u64, String> {
    let mut max_seconds = 600;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-seconds" => {
                let value = args.next().ok_or("--max-seconds needs a value")?;
                max_seconds = value
                    .parse()
                    .map_err(|_| format!("--max-seconds: not a number: {value}"))?;
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(max_seconds)
}

fn main() -> ExitCode {
    let max_seconds = match parse_args() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-busy: {e}");
            eprintln!("usage: bench-busy [--max-seconds S]");
            return ExitCode::from(2);
        }
    };
    let limit = Duration::from_secs(max_seconds);
    let start = Instant::now();
    let mut x: u64 = 0;
    // Bounded by time: the clock is read every 100,000 additions (well under a millisecond).
    while start.elapsed() < limit {
        for _ in 0..100_000 {
            x = black_box(x.wrapping_add(1));
        }
    }
    black_box(x);
    ExitCode::SUCCESS
}
