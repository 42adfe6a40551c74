//! A runtime for the t/ suite, on the Rust SDK. cfg is JSON:
//! `{"mode": "pool", "threads": 2}` (blocking handler), `{"mode": "async"}` (tokio),
//! `{"mode": "into", "threads": 2}` (`serve_into`: answers written into a `Body`) or
//! `{"mode": "manual"}` (polls by hand; `drop` drops the task unanswered, `body <req>` answers
//! the `into` command `<req>` with `Task::respond_body`).
//!
//! Requests: `echo <bytes>`, `error <rc> <bytes>`, `panic <text>`, `drop`,
//! `sleep <ms> <bytes>`, `log <level> <text>` (level: error|warn|info|debug|trace),
//! `flood <n>` (n warn lines at once).
//!
//! Deadlines and cancellation: `wait_cancel <ms>` waits up to ms (pool: checking
//! `CallInfo::is_cancelled` every ms; async: sleeping, until the SDK drops the future when
//! the caller gives up), then answers `not cancelled`; `deadline` answers the ms left until
//! the call's deadline (`CallInfo::deadline`) or `none`; `cancels` answers
//! `noticed=N dropped=M`: pool handlers that saw their call cancelled, async handler futures
//! dropped unfinished. `wait_cancel_mark <dict> <key> <ms>` waits as `wait_cancel` and marks
//! the cancellation in a shared dict (key = the Unix time in seconds, a number, when the pool
//! handler saw `is_cancelled()` or the async future was dropped): the zone outlives a worker
//! that exits while the call waits (t/009's worker exit test).
//!
//! Shared dictionaries (`SharedDict`): `shd get <dict> <key>` answers `<type> <value>
//! flags=<n>` (type string|number|boolean|nil); `shd <set|add|replace|safe_set|safe_add> <dict>
//! <key> <ttl_ms> <string|number|boolean> <value>`; `shd delete <dict> <key>`; `shd incr
//! <dict> <key> <delta> [<init> [<init_ttl_ms>]]` answers the new value; `shd ttl <dict> <key>`
//! (ms, `never`); `shd expire <dict> <key> <ms>`; `shd bench <dict> <key> <n>` runs n incrs
//! and n gets and answers `incr=<ns> get=<ns>` per op. Errors answer rc 1 with the message.
//! Streams (`rt:stream_x(req)`; pool and async serve with a `ChunkSender`, manual uses
//! `Task::stream_send`): `stream <n> <size>` sends n chunks `i:abc...` of size bytes and
//! answers `end`; `stream_fail <n>` sends n chunks then answers rc 7 `went wrong`;
//! `stream_ticks <ms>` sends `tick i` every ms until a send says cancelled;
//! `stream_cancels` answers how many handlers saw that (or, async, had their future dropped
//! unfinished); `is_stream` answers
//! `stream`/`plain` and, for a plain call, the send's error; `stream_total <bytes> <size>`
//! sends bytes in chunks of size and answers `sent=N`.
//!
//! Bodies (`into` mode, and `body <req>` in manual mode): `echo <bytes>` answers the bytes
//! with `Body::extend_from_slice`; `bytes <n>` n bytes, byte k being k % 251, appended in
//! chunks of 1, 2, 3, ... bytes (the body grows many times); `lines <n>` n lines
//! `0000000\n`, `0000001\n`, ... written with `write!`; `empty` writes nothing (answers "");
//! `cleared` writes, then clears the body (answers ""); `error <rc> <bytes>` and
//! `panic <text>` write, then fail; `reserve_max` answers the `NoMemory` of
//! `reserve(usize::MAX)`. Any other request is the pool's, its reply copied into the body.
//! Manual mode has no panic guard: `body panic` would end its polling thread.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use resty_ffi_sdk::shdict::{Op, Value};
use resty_ffi_sdk::{
    Body, BodyResult, CallInfo, ChunkSender, Init, NoMemory, Reply, SendError, SharedDict, RC_CANCELLED,
    RC_NO_MEMORY,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    #[serde(default = "one")]
    threads: usize,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Pool,
    Async,
    Into,
    Manual,
}

fn one() -> usize {
    1
}

fn split(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Pool handlers that saw their call cancelled; async futures dropped before they finished.
static NOTICED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Counts a `wait_cancel` future dropped before it finished, and logs when, against the
/// call's deadline.
struct DropGuard {
    finished: bool,
    deadline: Option<Instant>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        DROPPED.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        match self.deadline {
            Some(at) if now >= at => log::info!(
                "wait_cancel future dropped {} us after the deadline",
                (now - at).as_micros()
            ),
            Some(at) => log::info!(
                "wait_cancel future dropped {} us before the deadline",
                (at - now).as_micros()
            ),
            None => log::info!("wait_cancel future dropped (no deadline)"),
        }
    }
}

/// The wall clock in Unix seconds, for a mark that another worker reads.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `wait_cancel_mark`'s `<dict> <key> <ms>`.
struct Mark {
    dict: String,
    key: Vec<u8>,
    wait: Duration,
}

impl Mark {
    fn parse(rest: &[u8]) -> Mark {
        let (dict, rest) = split(rest);
        let (key, ms) = split(rest);
        Mark {
            dict: text(dict),
            key: key.to_vec(),
            wait: ms_of(ms),
        }
    }

    /// Stores the time of the notice under the key (a failure is logged: nobody to answer).
    fn set(&self) {
        let stored = SharedDict::open(&self.dict)
            .map_err(|e| e.to_string())
            .and_then(|d| {
                d.set(&self.key, Value::Number(unix_now()), None)
                    .map_err(|e| e.to_string())
            });
        match stored {
            Ok(()) => log::info!("wait_cancel_mark: marked {}", text(&self.key)),
            Err(e) => log::error!("wait_cancel_mark: {e}"),
        }
    }
}

/// Marks a `wait_cancel_mark` future dropped before it finished.
struct MarkOnDrop {
    mark: Mark,
    finished: bool,
}

impl Drop for MarkOnDrop {
    fn drop(&mut self) {
        if !self.finished {
            self.mark.set();
        }
    }
}

/// Stream handlers that saw a send answer cancelled.
static STREAM_CANCELS: AtomicUsize = AtomicUsize::new(0);

/// `i:` then the alphabet over and over, `size` bytes in all.
fn chunk_of(i: usize, size: usize) -> Vec<u8> {
    let mut c = format!("{i}:").into_bytes();
    let mut n = c.len();
    while n < size {
        c.push(b'a' + (n % 26) as u8);
        n += 1;
    }
    c.truncate(size);
    c
}

fn number(b: &[u8]) -> usize {
    text(b).parse().unwrap_or(0)
}

/// A stream command's steps: what to send next, and the answer once nothing is left.
enum Step {
    Chunk(Vec<u8>),
    Wait(Duration),
    Done(Reply),
}

/// The stream commands as a sequence of steps (`i` counts from 0), or None for another
/// command.
fn stream_step(req: &[u8], i: usize) -> Option<Step> {
    let (cmd, rest) = split(req);
    let (a, b) = split(rest);
    Some(match cmd {
        b"stream" if i < number(a) => Step::Chunk(chunk_of(i, number(b))),
        b"stream" => Step::Done(Ok(b"end".to_vec())),
        b"stream_fail" if i < number(a) => Step::Chunk(chunk_of(i, 8)),
        b"stream_fail" => Step::Done(Err((7, b"went wrong".to_vec()))),
        // Chunks and waits alternate.
        b"stream_ticks" if i & 1 == 0 => Step::Chunk(format!("tick {}", i / 2).into_bytes()),
        b"stream_ticks" => Step::Wait(ms_of(a)),
        b"stream_total" => {
            let (total, size) = (number(a), number(b).max(1));
            let sent = i.saturating_mul(size);
            if sent >= total {
                Step::Done(Ok(format!("sent={total}").into_bytes()))
            } else {
                Step::Chunk(vec![b'x'; size.min(total - sent)])
            }
        }
        _ => return None,
    })
}

fn send_failed(e: SendError) -> Reply {
    if e == SendError::Cancelled {
        STREAM_CANCELS.fetch_add(1, Ordering::SeqCst);
    }
    Err(e.into())
}

/// The stream commands with a blocking send; None for another command.
fn stream_blocking(
    req: &[u8],
    send: &dyn Fn(&[u8]) -> Result<(), SendError>,
    is_stream: bool,
) -> Option<Reply> {
    let (cmd, _) = split(req);
    match cmd {
        b"stream_cancels" => return Some(Ok(STREAM_CANCELS.load(Ordering::SeqCst).to_string().into_bytes())),
        b"is_stream" => return Some(is_stream_reply(is_stream, send(b"x"))),
        _ => {}
    }
    let mut i = 0;
    loop {
        match stream_step(req, i)? {
            Step::Chunk(c) => {
                if let Err(e) = send(&c) {
                    return Some(send_failed(e));
                }
            }
            Step::Wait(d) => std::thread::sleep(d),
            Step::Done(reply) => return Some(reply),
        }
        i += 1;
    }
}

fn is_stream_reply(is_stream: bool, sent: Result<(), SendError>) -> Reply {
    match (is_stream, sent) {
        (true, Ok(())) => Ok(b"stream".to_vec()),
        (false, Err(e)) => Ok(format!("plain: {e}").into_bytes()),
        (s, r) => Err((1, format!("unexpected: {s} {r:?}").into_bytes())),
    }
}

/// Counts a stream handler future dropped unfinished: on tokio a caller that stops reading
/// usually has the future dropped at its `.await` (the cancel thread) before a send sees it.
struct StreamDropGuard {
    finished: bool,
}

impl Drop for StreamDropGuard {
    fn drop(&mut self) {
        if !self.finished {
            STREAM_CANCELS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The stream commands with `send_async`; None for another command.
async fn stream_async(req: &[u8], sender: &ChunkSender) -> Option<Reply> {
    let (cmd, _) = split(req);
    if cmd == b"is_stream" {
        return Some(is_stream_reply(sender.is_stream(), sender.send_async(b"x").await));
    }
    if cmd == b"stream_cancels" {
        return Some(Ok(STREAM_CANCELS.load(Ordering::SeqCst).to_string().into_bytes()));
    }
    let mut guard = StreamDropGuard { finished: false };
    let mut i = 0;
    let reply = loop {
        match stream_step(req, i) {
            None => break None,
            Some(Step::Chunk(c)) => {
                if let Err(e) = sender.send_async(&c).await {
                    break Some(send_failed(e));
                }
            }
            Some(Step::Wait(d)) => tokio::time::sleep(d).await,
            Some(Step::Done(reply)) => break Some(reply),
        }
        i += 1;
    };
    guard.finished = true;
    reply
}

fn ms_of(rest: &[u8]) -> Duration {
    Duration::from_millis(text(rest).parse().unwrap_or(0))
}

/// Blocking `wait_cancel`: looks at the flag every ms.
fn wait_cancel_blocking(rest: &[u8], call: &CallInfo) -> Reply {
    let until = Instant::now() + ms_of(rest);
    while Instant::now() < until {
        if call.is_cancelled() {
            NOTICED.fetch_add(1, Ordering::SeqCst);
            return Err((RC_CANCELLED, b"cancelled".to_vec()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(b"not cancelled".to_vec())
}

/// Blocking `wait_cancel_mark`: `wait_cancel_blocking`, and the mark once cancelled.
fn wait_cancel_mark_blocking(rest: &[u8], call: &CallInfo) -> Reply {
    let mark = Mark::parse(rest);
    let until = Instant::now() + mark.wait;
    while Instant::now() < until {
        if call.is_cancelled() {
            mark.set();
            return Err((RC_CANCELLED, b"cancelled".to_vec()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(b"not cancelled".to_vec())
}

/// Everything but sleeping and waiting, which each mode does its own way.
fn handle_call(req: &[u8], call: &CallInfo) -> Reply {
    let (cmd, _) = split(req);
    match cmd {
        b"deadline" => Ok(match call.deadline() {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .as_millis()
                .to_string(),
            None => "none".to_string(),
        }
        .into_bytes()),
        b"cancels" => Ok(format!(
            "noticed={} dropped={}",
            NOTICED.load(Ordering::SeqCst),
            DROPPED.load(Ordering::SeqCst)
        )
        .into_bytes()),
        _ => handle(req),
    }
}

fn handle(req: &[u8]) -> Reply {
    let (cmd, rest) = split(req);
    match cmd {
        b"echo" => Ok(rest.to_vec()),
        b"error" => {
            let (rc, msg) = split(rest);
            Err((text(rc).parse().unwrap_or(1), msg.to_vec()))
        }
        b"panic" => panic!("{}", text(rest)),
        b"log" => {
            let (level, msg) = split(rest);
            let msg = text(msg);
            match level {
                b"error" => log::error!("{msg}"),
                b"warn" => log::warn!("{msg}"),
                b"info" => log::info!("{msg}"),
                b"debug" => log::debug!("{msg}"),
                _ => log::trace!("{msg}"),
            }
            Ok(b"logged".to_vec())
        }
        b"flood" => {
            let n: usize = text(rest).parse().unwrap_or(0);
            for i in 0..n {
                log::warn!("flood line {i}");
            }
            Ok(b"flooded".to_vec())
        }
        b"shd" => shd(rest).map_err(|e| (1, e.into_bytes())),
        _ => Err((22, b"unknown command".to_vec())),
    }
}

fn ms_opt(ms: &[u8]) -> Result<Option<Duration>, String> {
    let ms: u64 = text(ms).parse().map_err(|e| format!("bad ms: {e}"))?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

fn num(b: &[u8]) -> Result<f64, String> {
    text(b).parse().map_err(|e| format!("bad number: {e}"))
}

/// `shd ...`: the SharedDict commands (see the top of this file).
fn shd(req: &[u8]) -> Result<Vec<u8>, String> {
    let (op, rest) = split(req);
    let (name, rest) = split(rest);
    let (key, rest) = split(rest);
    let dict = SharedDict::open(&text(name)).map_err(|e| e.to_string())?;
    let err = |e: resty_ffi_sdk::shdict::Error| e.to_string();
    let store_op = match op {
        b"set" => Some(Op::Set),
        b"add" => Some(Op::Add),
        b"replace" => Some(Op::Replace),
        b"safe_set" => Some(Op::SafeSet),
        b"safe_add" => Some(Op::SafeAdd),
        _ => None,
    };
    if let Some(store_op) = store_op {
        let (ttl, rest) = split(rest);
        let (ty, value) = split(rest);
        let value = match ty {
            b"string" => Value::String(value.to_vec()),
            b"number" => Value::Number(num(value)?),
            b"boolean" => Value::Bool(value == b"true"),
            _ => return Err("bad type".into()),
        };
        let ttl = ms_opt(ttl)?;
        match store_op {
            Op::Set => dict.set(key, value, ttl),
            Op::Add => dict.add(key, value, ttl),
            Op::Replace => dict.replace(key, value, ttl),
            Op::SafeSet => dict.safe_set(key, value, ttl),
            Op::SafeAdd => dict.safe_add(key, value, ttl),
        }
        .map_err(err)?;
        return Ok(b"stored".to_vec());
    }
    match op {
        b"get" => {
            let (ty, mut out, flags) = match dict.get_with_flags(key).map_err(err)? {
                None => ("nil", Vec::new(), 0),
                Some((Value::String(s), f)) => ("string", s, f),
                Some((Value::Number(n), f)) => ("number", n.to_string().into_bytes(), f),
                Some((Value::Bool(b), f)) => ("boolean", b.to_string().into_bytes(), f),
            };
            let mut answer = format!("{ty} ").into_bytes();
            answer.append(&mut out);
            answer.extend_from_slice(format!(" flags={flags}").as_bytes());
            Ok(answer)
        }
        b"delete" => {
            dict.delete(key).map_err(err)?;
            Ok(b"deleted".to_vec())
        }
        b"incr" => {
            let (delta, rest) = split(rest);
            let (init, init_ttl) = split(rest);
            let init = if init.is_empty() {
                None
            } else {
                Some((
                    num(init)?,
                    if init_ttl.is_empty() {
                        None
                    } else {
                        ms_opt(init_ttl)?
                    },
                ))
            };
            Ok(dict
                .incr(key, num(delta)?, init)
                .map_err(err)?
                .to_string()
                .into_bytes())
        }
        b"ttl" => Ok(match dict.ttl(key).map_err(err)? {
            None => "never".to_string(),
            Some(d) => d.as_millis().to_string(),
        }
        .into_bytes()),
        b"expire" => {
            dict.expire(key, ms_opt(rest)?).map_err(err)?;
            Ok(b"expired".to_vec())
        }
        b"bench" => {
            let n: u32 = text(rest).parse().map_err(|e| format!("bad n: {e}"))?;
            let n = n.max(1);
            let start = Instant::now();
            for _ in 0..n {
                dict.incr(key, 1.0, Some((0.0, None))).map_err(err)?;
            }
            let incr = start.elapsed().as_nanos() / u128::from(n);
            let start = Instant::now();
            for _ in 0..n {
                dict.get(key).map_err(err)?;
            }
            let get = start.elapsed().as_nanos() / u128::from(n);
            Ok(format!("incr={incr} get={get}").into_bytes())
        }
        _ => Err("unknown shd command".into()),
    }
}

/// A failed `Body` write as an error reply.
fn no_memory(e: NoMemory) -> (i32, Vec<u8>) {
    (RC_NO_MEMORY, e.to_string().into_bytes())
}

/// A failed `write!` into a `Body` as an error reply.
fn write_failed(e: std::io::Error) -> (i32, Vec<u8>) {
    (RC_NO_MEMORY, e.to_string().into_bytes())
}

/// `bytes <n>`: byte k is k % 251, appended in chunks of 1, 2, 3, ... bytes.
fn write_pattern(n: usize, out: &mut Body) -> BodyResult {
    let (mut k, mut step) = (0, 1);
    while k < n {
        let len = step.min(n - k);
        let chunk: Vec<u8> = (k..k + len).map(|i| (i % 251) as u8).collect();
        out.extend_from_slice(&chunk).map_err(no_memory)?;
        k += len;
        step += 1;
    }
    Ok(())
}

/// The body commands (see the top of this file); any other request is the pool's
/// `handle_blocking`, its reply copied into the body.
fn handle_into(req: &[u8], call: &CallInfo, out: &mut Body) -> BodyResult {
    let (cmd, rest) = split(req);
    match cmd {
        b"echo" => out.extend_from_slice(rest).map_err(no_memory),
        b"bytes" => write_pattern(number(rest), out),
        b"lines" => {
            for i in 0..number(rest) {
                writeln!(out, "{i:07}").map_err(write_failed)?;
            }
            Ok(())
        }
        b"empty" => Ok(()),
        b"cleared" => {
            write!(out, "discarded").map_err(write_failed)?;
            out.clear();
            Ok(())
        }
        b"error" => {
            out.extend_from_slice(b"discarded").map_err(no_memory)?;
            let (rc, msg) = split(rest);
            Err((text(rc).parse().unwrap_or(1), msg.to_vec()))
        }
        b"panic" => {
            out.extend_from_slice(b"discarded").map_err(no_memory)?;
            panic!("{}", text(rest))
        }
        b"reserve_max" => out.reserve(usize::MAX).map_err(no_memory),
        _ => {
            let bytes = handle_blocking(req, call)?;
            out.extend_from_slice(&bytes).map_err(no_memory)
        }
    }
}

fn sleep_args(rest: &[u8]) -> (Duration, Vec<u8>) {
    let (ms, payload) = split(rest);
    (
        Duration::from_millis(text(ms).parse().unwrap_or(0)),
        payload.to_vec(),
    )
}

fn start(init: Init) -> Result<(), String> {
    let cfg: Config = init.cfg_json()?;
    if cfg.mode == Mode::Async {
        return init
            .serve_async_stream(
                2,
                |req: Vec<u8>, call: CallInfo, sender: ChunkSender| async move {
                    if let Some(reply) = stream_async(&req, &sender).await {
                        return reply;
                    }
                    let (cmd, rest) = split(&req);
                    if cmd == b"sleep" {
                        let (d, payload) = sleep_args(rest);
                        tokio::time::sleep(d).await;
                        return Ok(payload);
                    }
                    if cmd == b"wait_cancel" {
                        let mut guard = DropGuard {
                            finished: false,
                            deadline: call.deadline(),
                        };
                        tokio::time::sleep(ms_of(rest)).await;
                        guard.finished = true;
                        return Ok(b"not cancelled".to_vec());
                    }
                    if cmd == b"wait_cancel_mark" {
                        let mut guard = MarkOnDrop {
                            mark: Mark::parse(rest),
                            finished: false,
                        };
                        tokio::time::sleep(guard.mark.wait).await;
                        guard.finished = true;
                        return Ok(b"not cancelled".to_vec());
                    }
                    handle_call(&req, &call)
                },
            )
            .map_err(|e| e.to_string());
    }
    if cfg.mode == Mode::Into {
        return init
            .serve_into(cfg.threads, handle_into)
            .map_err(|e| e.to_string());
    }
    if cfg.mode == Mode::Manual {
        // Polls by hand: `drop` drops a task unanswered (the SDK must answer it); `body <req>`
        // answers with Task::respond_body.
        let queue = init.queue();
        std::thread::spawn(move || {
            while let Some(task) = queue.poll() {
                if task.request() == b"drop" {
                    drop(task);
                } else if let Some(req) = task.request().strip_prefix(b"body ") {
                    let mut body = Body::new();
                    match handle_into(req, &task.call_info(), &mut body) {
                        Ok(()) => task.respond_body(body),
                        Err(e) => task.respond(Err(e)),
                    }
                } else if let Some(reply) =
                    stream_blocking(task.request(), &|c| task.stream_send(c), task.is_stream())
                {
                    task.respond(reply);
                } else {
                    let reply = handle(task.request());
                    task.respond(reply);
                }
            }
        });
        return Ok(());
    }
    init.serve_stream(cfg.threads, |req, call, sender| {
        if let Some(reply) = stream_blocking(req, &|c| sender.send(c), sender.is_stream()) {
            return reply;
        }
        handle_blocking(req, call)
    })
    .map_err(|e| e.to_string())
}

/// The pool's requests but streams: sleeping and waiting block the thread.
fn handle_blocking(req: &[u8], call: &CallInfo) -> Reply {
    let (cmd, rest) = split(req);
    if cmd == b"sleep" {
        let (d, payload) = sleep_args(rest);
        std::thread::sleep(d);
        return Ok(payload);
    }
    if cmd == b"wait_cancel" {
        return wait_cancel_blocking(rest, call);
    }
    if cmd == b"wait_cancel_mark" {
        return wait_cancel_mark_blocking(rest, call);
    }
    handle_call(req, call)
}

resty_ffi_sdk::runtime!(start);
