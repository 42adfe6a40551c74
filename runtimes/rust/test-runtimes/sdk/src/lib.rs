//! A runtime for the t/ suite, on the Rust SDK. cfg is JSON:
//! `{"mode": "pool", "threads": 2}` (blocking handler), `{"mode": "async"}` (tokio) or
//! `{"mode": "manual"}` (polls by hand; `drop` drops the task unanswered).
//!
//! Requests: `echo <bytes>`, `error <rc> <bytes>`, `panic <text>`, `drop`,
//! `sleep <ms> <bytes>`, `log <level> <text>` (level: error|warn|info|debug|trace),
//! `flood <n>` (n warn lines at once).

use std::time::Duration;

use resty_ffi_sdk::{Init, Reply};
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

/// Everything but sleeping, which each mode does its own way.
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
        _ => Err((22, b"unknown command".to_vec())),
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
            .serve_async(2, |req: Vec<u8>| async move {
                let (cmd, rest) = split(&req);
                if cmd == b"sleep" {
                    let (d, payload) = sleep_args(rest);
                    tokio::time::sleep(d).await;
                    return Ok(payload);
                }
                handle(&req)
            })
            .map_err(|e| e.to_string());
    }
    if cfg.mode == Mode::Manual {
        // Polls by hand: `drop` drops a task unanswered (the SDK must answer it).
        let queue = init.queue();
        std::thread::spawn(move || {
            while let Some(task) = queue.poll() {
                if task.request() == b"drop" {
                    drop(task);
                } else {
                    let reply = handle(task.request());
                    task.respond(reply);
                }
            }
        });
        return Ok(());
    }
    init.serve(cfg.threads, |req| {
        let (cmd, rest) = split(req);
        if cmd == b"sleep" {
            let (d, payload) = sleep_args(rest);
            std::thread::sleep(d);
            return Ok(payload);
        }
        handle(req)
    })
    .map_err(|e| e.to_string())
}

resty_ffi_sdk::runtime!(start);
