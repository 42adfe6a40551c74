//! Serving a runtime's queue with a JS handler on Node's event loop.
//!
//! A poll thread per loaded runtime blocks in the module's batch poll and hands each task
//! to Node through an N-API threadsafe function (a uv_async wake-up plus a queue): JS never
//! polls. On Node's thread `deliver` copies the request into a Buffer and calls the JS
//! server function with `(task, req)`; JS answers through the binding's `respond`, so any
//! number of calls are in flight at once. When the runtime is unloaded the poll comes back
//! empty: after the last task, `fn(null, null)` tells JS (which runs the handler's
//! `onUnload`), the thread releases the threadsafe function and Node drops the handler.
//!
//! Cancellation: a second thread per runtime blocks in the module's cancel_poll and hands
//! each task whose caller gave up to JS through a second threadsafe function, as a call
//! `cancel(task)` (JS aborts the call's AbortSignal). `deliver` passes the call's deadline
//! and whether it was already cancelled: a cancellation announced before its task reached
//! JS is not lost (both run on Node's thread, so nothing falls in between).

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

use resty_ffi_loader_host::spawn_with_nginx_signals_blocked;
use resty_ffi_sdk::raw::{self, level};

use crate::js_value::{Js, JsResult};
use crate::napi::*;
use crate::tasks;

/// A poll thread only polls and queues: a small stack.
const POLL_STACK_SIZE: usize = 256 << 10;

/// Cancelled tasks taken from the module at once.
const CANCEL_BATCH: usize = 64;

struct TaskFn(napi_threadsafe_function);
// SAFETY: N-API threadsafe functions are made to be called from any thread.
unsafe impl Send for TaskFn {}

/// A threadsafe function for `f` whose calls land in `call_js` on Node's thread.
fn threadsafe_function(
    js: Js,
    f: napi_value,
    what: &str,
    call_js: napi_threadsafe_function_call_js,
) -> JsResult<napi_threadsafe_function> {
    let name = js.string(what)?;
    let mut tsfn = std::ptr::null_mut();
    // SAFETY: on Node's thread in a binding call; `f` is a live function value.
    let status = unsafe {
        napi_create_threadsafe_function(
            js.env(),
            f,
            std::ptr::null_mut(),
            name,
            0,
            1,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
            Some(call_js),
            &mut tsfn,
        )
    };
    if status != NAPI_OK {
        return Err(format!(
            "serve: napi_create_threadsafe_function failed ({status})"
        ));
    }
    Ok(tsfn)
}

/// Binding `serve(tq, fn, cancel)`: from now on each task of `tq` becomes a call
/// `fn(task, req, deadline, cancelled)`, and each of them whose caller gives up a call
/// `cancel(task)` (if `cancel` is a function).
pub fn serve(js: Js, tq: u64, server: napi_value, cancel: napi_value) -> JsResult<()> {
    if tq == 0 {
        return Err("serve: a task queue handle expected".to_string());
    }
    if js.type_of(server)? != NAPI_FUNCTION {
        return Err("serve: a function expected".to_string());
    }
    let tsfn = threadsafe_function(js, server, "resty_ffi task", deliver)?;
    let task_fn = TaskFn(tsfn);
    let builder = thread::Builder::new()
        .name("resty-ffi-node-poll".to_string())
        .stack_size(POLL_STACK_SIZE);
    // The poll thread is born with nginx's signals blocked.
    if let Err(e) = spawn_with_nginx_signals_blocked(builder, move || pump(tq, task_fn)) {
        // SAFETY: the function was never handed to a thread: release our only reference.
        unsafe { napi_release_threadsafe_function(tsfn, NAPI_TSFN_RELEASE) };
        return Err(format!("serve: cannot start a poll thread: {e}"));
    }
    if js.type_of(cancel)? == NAPI_FUNCTION {
        listen_for_cancels(js, tq, cancel);
    }
    Ok(())
}

/// Starts the runtime's cancel thread. Serving goes on without cancellation if it cannot.
fn listen_for_cancels(js: Js, tq: u64, cancel: napi_value) {
    let tsfn = match threadsafe_function(js, cancel, "resty_ffi cancel", deliver_cancel) {
        Ok(tsfn) => tsfn,
        Err(e) => {
            raw::log_line(level::ERR, &format!("node: no cancellation for this runtime: {e}"));
            return;
        }
    };
    let cancel_fn = TaskFn(tsfn);
    let builder = thread::Builder::new()
        .name("resty-ffi-node-cancel".to_string())
        .stack_size(POLL_STACK_SIZE);
    if let Err(e) = spawn_with_nginx_signals_blocked(builder, move || announce(tq, cancel_fn)) {
        // SAFETY: the function was never handed to a thread: release our only reference.
        unsafe { napi_release_threadsafe_function(tsfn, NAPI_TSFN_RELEASE) };
        raw::log_line(
            level::ERR,
            &format!("node: no cancellation for this runtime: cannot start a thread: {e}"),
        );
    }
}

/// The cancel thread: each cancelled task becomes a call `cancel(task)` until the unload.
fn announce(tq: u64, cancel_fn: TaskFn) {
    let mut batch = Vec::with_capacity(CANCEL_BATCH);
    loop {
        tasks::cancel_poll(tq, CANCEL_BATCH, &mut batch);
        if batch.is_empty() {
            break;
        }
        for task in batch.drain(..) {
            // SAFETY: our reference is held until the release below; the queue is unbounded.
            unsafe {
                napi_call_threadsafe_function(cancel_fn.0, task as usize as *mut c_void, NAPI_TSFN_BLOCKING)
            };
        }
    }
    // SAFETY: our reference, released once; Node finalizes the function on its thread.
    unsafe { napi_release_threadsafe_function(cancel_fn.0, NAPI_TSFN_RELEASE) };
}

/// On Node's thread: a cancelled task into a call `cancel(task)`.
unsafe extern "C" fn deliver_cancel(env: napi_env, cancel: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    let task = data as usize as u64;
    let run = AssertUnwindSafe(|| -> JsResult<()> {
        if env.is_null() {
            return Ok(()); // Node is shutting down: nobody to tell
        }
        // SAFETY: Node calls us on its thread with a live env.
        let js = unsafe { Js::new(env) };
        let handle = js.bigint(task)?;
        js.call(cancel, &[handle]).map(|_| ())
    });
    match catch_unwind(run) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => raw::log_line(level::ERR, &format!("node: cancelling a call failed: {e}")),
        Err(_) => raw::log_line(level::ERR, "node: panic while cancelling a call"),
    }
}

fn pump(tq: u64, task_fn: TaskFn) {
    let mut batch = Vec::with_capacity(tasks::BATCH);
    loop {
        tasks::poll_batch(tq, tasks::BATCH, &mut batch);
        if batch.is_empty() {
            break;
        }
        for task in batch.drain(..) {
            // SAFETY: we hold a reference to the function until the release below; the
            // queue is unbounded, so "blocking" never waits.
            let status = unsafe {
                napi_call_threadsafe_function(task_fn.0, task as usize as *mut c_void, NAPI_TSFN_BLOCKING)
            };
            if status != NAPI_OK {
                // the task never reaches JS: dropped without an answer
                let why = "node: Node.js is not running any more";
                tasks::respond_error(task, resty_ffi_sdk::RC_DROPPED, why);
            }
        }
    }
    // The runtime is unloaded: after every task, a last call `fn(null, null)` tells JS.
    // SAFETY: as above; a NULL item is the "unloaded" mark (no task handle is 0).
    unsafe { napi_call_threadsafe_function(task_fn.0, std::ptr::null_mut(), NAPI_TSFN_BLOCKING) };
    // SAFETY: our reference, released once; Node finalizes the function on its thread.
    unsafe { napi_release_threadsafe_function(task_fn.0, NAPI_TSFN_RELEASE) };
}

/// On Node's thread: one task into a call of the JS server function.
unsafe extern "C" fn deliver(env: napi_env, server: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    let task = data as usize as u64;
    let run = AssertUnwindSafe(|| -> JsResult<()> {
        if env.is_null() {
            return Err("Node.js is shutting down".to_string());
        }
        // SAFETY: Node calls us on its thread with a live env.
        let js = unsafe { Js::new(env) };
        if task == 0 {
            let null = js.null()?;
            return js.call(server, &[null, null]).map(|_| ());
        }
        // SAFETY: copied into a Buffer right away, before JS can answer the task.
        let Some(req) = (unsafe { tasks::request(task) }) else {
            return Ok(()); // a handle the module refuses: nobody waits for it
        };
        let req = js.buffer(req)?;
        let handle = js.bigint(task)?;
        let deadline = match tasks::deadline_ms(task) {
            Some(ms) => js.number(ms)?,
            None => js.null()?,
        };
        let cancelled = js.int(i32::from(tasks::cancelled(task)))?;
        js.call(server, &[handle, req, deadline, cancelled]).map(|_| ())
    });
    let (rc, failed) = match catch_unwind(run) {
        Ok(Ok(())) => return,
        // Node is going away: the task never reaches JS
        Ok(Err(e)) if env.is_null() => (resty_ffi_sdk::RC_DROPPED, e),
        Ok(Err(e)) => (resty_ffi_sdk::RC_ERROR, e),
        Err(_) => (resty_ffi_sdk::RC_ERROR, "panic while handing a task to JS".into()),
    };
    if task == 0 {
        raw::log_line(level::ERR, &format!("node: the unload hook failed: {failed}"));
        return;
    }
    // A second answer (if JS did answer) is refused by the module.
    tasks::respond_error(task, rc, &format!("node: {failed}"));
}
