//! Keeping the nginx worker alive when the JVM fails to start.
//!
//! Some start-up errors (`-Xmx1k`, a heap that cannot be reserved, a broken JDK) make HotSpot
//! print its message on stderr (nginx's error.log) and call `exit(1)`, which would end the
//! nginx worker (and with it, nginx itself when there is no master process). HotSpot calls
//! JNI's "abort" hook just before that exit. While the JVM is starting, our hook answers the
//! waiting `libffi_init` with a failure, records it, and parks the calling thread for good, so
//! `exit` is never reached: the worker goes on without Java and every later load fails at once.
//!
//! Once the JVM is up the hook returns at once: a JVM crash then ends the process as usual
//! (hanging a broken JVM would be worse).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Mutex, OnceLock};

use crate::load_failure::{java_failure, LoadOutcome};

static STARTING: AtomicBool = AtomicBool::new(false);
/// The answer channel of the libffi_init waiting for the start.
static WAITER: Mutex<Option<SyncSender<LoadOutcome>>> = Mutex::new(None);
static FAILED: OnceLock<String> = OnceLock::new();

const ABORTED: &str = "the JVM aborted while starting (its own message is above in error.log); \
                       this worker runs without Java";

/// Why the JVM cannot be used in this worker, if it aborted while starting.
pub fn failure() -> Option<&'static str> {
    FAILED.get().map(String::as_str)
}

/// Runs `start` (JNI_CreateJavaVM) with the hook armed; `waiter` gets the failure if it aborts.
pub fn guard<T>(waiter: SyncSender<LoadOutcome>, start: impl FnOnce() -> T) -> T {
    if let Ok(mut w) = WAITER.lock() {
        *w = Some(waiter);
    }
    STARTING.store(true, Ordering::SeqCst);
    let result = start();
    STARTING.store(false, Ordering::SeqCst);
    if let Ok(mut w) = WAITER.lock() {
        *w = None;
    }
    result
}

/// JNI's `abort` hook (`void (*)(void)`), given to JNI_CreateJavaVM as the "abort" option.
pub extern "C" fn abort_hook() {
    if !STARTING.load(Ordering::SeqCst) {
        return;
    }
    let _ = FAILED.set(ABORTED.to_string());
    let waiter = WAITER.lock().ok().and_then(|mut w| w.take());
    if let Some(waiter) = waiter {
        let _ = waiter.send(Err(java_failure(1, ABORTED)));
    }
    // Never return: returning lets HotSpot exit() the nginx worker.
    loop {
        std::thread::park();
    }
}
