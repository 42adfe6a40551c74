//! The worker's Node thread: started by the first load, it starts Node (once per process)
//! and runs Node's event loop for the life of the worker.
//!
//! libffi_init waits (bounded) until Node is up: the bootstrap script hands the loader's JS
//! function to the binding (`attachLoader`), which makes Node "ready" for loads.

use std::ffi::{c_char, c_int};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use resty_ffi_loader_host::HostThread;
use resty_ffi_sdk::raw;

use crate::{binding, embed, loads};

/// How long a load waits for Node to start (reading libnode and its ICU data from disk).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// V8 sizes its stack limit from the thread's stack: give JS a roomy one (mostly untouched).
const STACK_SIZE: usize = 8 << 20;

const BOOTSTRAP: &str = include_str!("../js/bootstrap.js");

enum Phase {
    NotStarted,
    Starting,
    Ready,
    /// Node could not start, or its loop ended: loads fail with this reason.
    Failed(String),
}

struct NodeState {
    phase: Mutex<Phase>,
    changed: Condvar,
    /// Node's thread, once started: it belongs to the process that started it.
    host: Mutex<Option<HostThread>>,
    /// The last error the C++ part reported (the reason Node did not start).
    last_error: Mutex<Option<String>>,
}

static STATE: NodeState = NodeState {
    phase: Mutex::new(Phase::NotStarted),
    changed: Condvar::new(),
    host: Mutex::new(None),
    last_error: Mutex::new(None),
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_phase(phase: Phase) {
    *lock(&STATE.phase) = phase;
    STATE.changed.notify_all();
}

/// Called on the Node thread once the loader's JS is in place.
pub fn set_ready() {
    set_phase(Phase::Ready);
}

/// The C++ part's error reports: into error.log, and kept as the reason for a failed start.
unsafe extern "C" fn report(level: c_int, msg: *const c_char, len: usize) {
    let _ = std::panic::catch_unwind(|| {
        if msg.is_null() {
            return;
        }
        // SAFETY: the C++ part passes `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) };
        raw::log_bytes(level, bytes);
        if level <= raw::level::ERR {
            *lock(&STATE.last_error) = Some(String::from_utf8_lossy(bytes).into_owned());
        }
    });
}

fn run_node() {
    let result = std::panic::catch_unwind(|| embed::run(BOOTSTRAP, binding::NAME, binding::init, report));
    let started = matches!(*lock(&STATE.phase), Phase::Ready);
    let why = match result {
        Ok(Ok(0)) if started => "Node.js's event loop ended".to_string(),
        Ok(Ok(_)) | Ok(Err(_)) | Err(_) if started => "Node.js stopped".to_string(),
        Ok(Err(e)) => e,
        Err(_) => "panic while starting Node.js".to_string(),
        Ok(Ok(rc)) => lock(&STATE.last_error)
            .clone()
            .unwrap_or_else(|| format!("Node.js did not start (rc {rc})")),
    };
    loads::detach(&why);
    raw::log_line(
        raw::level::ERR,
        &format!("ffi_nodejs: {why}: Node runtimes of this worker stop"),
    );
    set_phase(Phase::Failed(why));
}

/// Starts Node in this process if needed and waits until it is ready for loads.
pub fn ensure_started() -> Result<(), String> {
    let mut phase = lock(&STATE.phase);
    if let Phase::NotStarted = *phase {
        // Node's thread, and every thread Node starts (V8's platform workers, libuv's pool,
        // worker_threads), is born with nginx's signals blocked: they stay nginx's.
        *phase = match HostThread::spawn("resty-ffi-node", STACK_SIZE, run_node) {
            Ok(host) => {
                *lock(&STATE.host) = Some(host);
                Phase::Starting
            }
            Err(e) => Phase::Failed(format!("cannot start the Node.js thread: {e}")),
        };
    }
    if let Some(host) = &*lock(&STATE.host) {
        host.check_owner("Node.js")?;
    }
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match &*phase {
            Phase::Ready => return Ok(()),
            Phase::Failed(why) => return Err(why.clone()),
            Phase::NotStarted | Phase::Starting => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "Node.js did not start within {} s",
                START_TIMEOUT.as_secs()
            ));
        }
        phase = STATE
            .changed
            .wait_timeout(phase, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}
