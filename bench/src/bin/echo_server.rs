//! The "unix-socket way" the bridge is compared with: an echo server on a unix stream socket.
//!
//! Framing, both ways: a 4-byte big-endian length, then that many payload bytes. Every frame
//! is answered with the same frame. One thread per connection.
//!
//! ```text
//! bench-echo-server <socket path> [--max-seconds S] [--max-connections N]
//! ```
//!
//! Bounded: frames above 64 MiB close the connection, at most `--max-connections` (256)
//! connections are served at once, and the process exits by itself after `--max-seconds`
//! (3600) so a forgotten server cannot outlive a benchmark for long.

use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const MAX_FRAME: usize = 64 << 20;

struct Options {
    socket: PathBuf,
    max_seconds: u64,
    max_connections: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut socket = None;
    let mut max_seconds = 3600;
    let mut max_connections = 256;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-seconds" => max_seconds = number_arg(&mut args, &arg)?,
            "--max-connections" => max_connections = number_arg(&mut args, &arg)? as usize,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ if socket.is_none() => socket = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    let socket = socket.ok_or("missing the socket path")?;
    Ok(Options { socket, max_seconds, max_connections })
}

fn number_arg(args: &mut impl Iterator<Item = String>, name: &str) -> Result<u64, String> {
    let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
    value.parse().map_err(|_| format!("{name}: not a number: {value}"))
}

/// Removes a socket file left by an earlier run; refuses to remove anything else.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean end of stream before the first byte.
fn read_frame_part(conn: &mut UnixStream, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match conn.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Echoes frames until the peer closes. The frame buffer (header + payload) is reused.
fn echo_frames(mut conn: UnixStream) -> io::Result<()> {
    let mut frame = vec![0u8; 4];
    loop {
        if !read_frame_part(&mut conn, &mut frame[..4])? {
            return Ok(());
        }
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {len} bytes is over the {MAX_FRAME} byte limit"),
            ));
        }
        frame.resize(4 + len, 0);
        if !read_frame_part(&mut conn, &mut frame[4..])? && len > 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        conn.write_all(&frame)?;
    }
}

fn serve(listener: UnixListener, max_connections: usize) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bench-echo-server: accept: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::AcqRel) >= max_connections {
            open.fetch_sub(1, Ordering::AcqRel);
            eprintln!("bench-echo-server: over {max_connections} connections, closing one");
            continue;
        }
        let open = open.clone();
        let spawned = thread::Builder::new().name("echo-conn".into()).spawn(move || {
            if let Err(e) = echo_frames(conn) {
                eprintln!("bench-echo-server: connection: {e}");
            }
            open.fetch_sub(1, Ordering::AcqRel);
        });
        if let Err(e) = spawned {
            eprintln!("bench-echo-server: cannot start a connection thread: {e}");
        }
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench-echo-server: {e}");
            eprintln!("usage: bench-echo-server <socket path> [--max-seconds S] [--max-connections N]");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = remove_stale_socket(&opts.socket) {
        eprintln!("bench-echo-server: {}: {e}", opts.socket.display());
        return ExitCode::FAILURE;
    }
    let listener = match UnixListener::bind(&opts.socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-echo-server: bind {}: {e}", opts.socket.display());
            return ExitCode::FAILURE;
        }
    };

    let socket = opts.socket.clone();
    let max_seconds = opts.max_seconds;
    let watchdog = thread::Builder::new().name("watchdog".into()).spawn(move || {
        thread::sleep(Duration::from_secs(max_seconds));
        eprintln!("bench-echo-server: --max-seconds {max_seconds} reached, exiting");
        let _ = std::fs::remove_file(&socket);
        std::process::exit(0);
    });
    if let Err(e) = watchdog {
        eprintln!("bench-echo-server: cannot start the watchdog: {e}");
        return ExitCode::FAILURE;
    }

    serve(listener, opts.max_connections);
    ExitCode::SUCCESS
}
