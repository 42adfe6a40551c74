//! Loads: libffi_init hands a load to the JS loader on Node's thread and waits (bounded) for
//! its outcome, which JS reports through the binding's `loadDone(id, error)`.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::js_value::{Js, JsResult};
use crate::load_spec::LoadSpec;
use crate::napi::*;
use crate::node_thread;

/// How long libffi_init waits for a module to load and its export to return a handler.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

type Outcome = Result<(), String>;

struct LoadJob {
    id: u64,
    spec: LoadSpec,
    tq: u64,
}

/// The threadsafe function that calls the JS loader on Node's thread.
struct LoaderFn(napi_threadsafe_function);
// SAFETY: N-API threadsafe functions are made to be called from any thread.
unsafe impl Send for LoaderFn {}

static LOADER: Mutex<Option<LoaderFn>> = Mutex::new(None);
static PENDING: Mutex<Option<HashMap<u64, SyncSender<Outcome>>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn take_pending(id: u64) -> Option<SyncSender<Outcome>> {
    lock(&PENDING).as_mut().and_then(|p| p.remove(&id))
}

/// The outcome of load `id` (from JS, or from a failure to call JS).
pub fn finish(id: u64, outcome: Outcome) {
    if let Some(tx) = take_pending(id) {
        let _ = tx.send(outcome);
    }
}

/// Binding `attachLoader(fn)`: `fn(id, module, export, cfg, tq, fresh)` loads from now on.
pub fn attach(js: Js, load_fn: napi_value) -> JsResult<()> {
    let mut loader = lock(&LOADER);
    if loader.is_some() {
        return Err("attachLoader: the loader is attached already".to_string());
    }
    let name = js.string("resty_ffi load")?;
    let mut tsfn = std::ptr::null_mut();
    // SAFETY: on Node's thread in a binding call; `load_fn` is a live function value.
    let status = unsafe {
        napi_create_threadsafe_function(
            js.env(),
            load_fn,
            std::ptr::null_mut(),
            name,
            0,
            1,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
            Some(run_job),
            &mut tsfn,
        )
    };
    if status != NAPI_OK {
        return Err(format!(
            "attachLoader: napi_create_threadsafe_function failed ({status})"
        ));
    }
    *loader = Some(LoaderFn(tsfn));
    drop(loader);
    node_thread::set_ready();
    Ok(())
}

/// Node's loop has ended: no more loads; the waiting ones fail with `why`.
pub fn detach(why: &str) {
    lock(&LOADER).take();
    let waiting: Vec<_> = lock(&PENDING)
        .as_mut()
        .map(|p| p.drain().collect())
        .unwrap_or_default();
    for (_, tx) in waiting {
        let _ = tx.send(Err(why.to_string()));
    }
}

/// On Node's thread: calls the JS loader with one job.
unsafe extern "C" fn run_job(env: napi_env, load_fn: napi_value, _ctx: *mut c_void, data: *mut c_void) {
    // SAFETY: `data` is the Box leaked by `load` for this call, delivered exactly once.
    let job = unsafe { Box::from_raw(data.cast::<LoadJob>()) };
    let id = job.id;
    let run = AssertUnwindSafe(|| -> JsResult<()> {
        if env.is_null() {
            return Err("Node.js is shutting down".to_string());
        }
        // SAFETY: Node calls us on its thread with a live env.
        let js = unsafe { Js::new(env) };
        let args = [
            js.number(id as f64)?,
            js.string(&job.spec.module)?,
            js.string(&job.spec.export)?,
            js.opt_string(job.spec.cfg.as_deref())?,
            js.bigint(job.tq)?,
            js.int(i32::from(job.spec.fresh))?,
        ];
        js.call(load_fn, &args).map(|_| ())
    });
    match catch_unwind(run) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => finish(id, Err(e)),
        Err(_) => finish(id, Err("panic while calling the JS loader".to_string())),
    }
}

/// Loads `spec` for the runtime queue `tq` on Node's thread and waits for the outcome.
pub fn load(spec: LoadSpec, tq: u64) -> Outcome {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::sync_channel(1);
    lock(&PENDING).get_or_insert_with(HashMap::new).insert(id, tx);
    let module = spec.module.clone();
    {
        let loader = lock(&LOADER);
        let Some(LoaderFn(tsfn)) = loader.as_ref() else {
            take_pending(id);
            return Err("Node.js is not running".to_string());
        };
        let job = Box::into_raw(Box::new(LoadJob { id, spec, tq }));
        // SAFETY: the threadsafe function lives while LOADER holds it (we hold the lock); the
        // queue is unbounded, so the call does not block.
        let status = unsafe { napi_call_threadsafe_function(*tsfn, job.cast(), NAPI_TSFN_BLOCKING) };
        if status != NAPI_OK {
            // SAFETY: Node did not take the job: it is still ours.
            drop(unsafe { Box::from_raw(job) });
            take_pending(id);
            return Err(format!("cannot reach Node.js's thread (napi status {status})"));
        }
    }
    match rx.recv_timeout(LOAD_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(RecvTimeoutError::Timeout) => {
            take_pending(id);
            Err(format!(
                "{module}: not loaded within {} s",
                LOAD_TIMEOUT.as_secs()
            ))
        }
        Err(RecvTimeoutError::Disconnected) => Err("Node.js stopped during the load".to_string()),
    }
}
