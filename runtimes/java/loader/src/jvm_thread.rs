//! The worker's JVM thread: it creates the JVM and runs every `libffi_init` in Java.
//!
//! The nginx worker thread never runs Java and is never attached: it is the process's
//! primordial thread (HotSpot does not guard its stack) and it owns nginx's signals. One
//! dedicated thread creates the JVM (so it stays the JVM's attached "main" thread for good) and
//! runs `resty.ffi.Loader.init(cfg, tq)` for each load, while libffi_init waits for the answer.
//!
//! The thread is born with nginx's control signals blocked, and every thread the JVM starts
//! inherits that mask, so signals sent to the worker are handled by the worker thread.

use std::sync::mpsc;
use std::sync::OnceLock;

use jni::objects::{JString, JValue};
use jni::sys::{jint, jlong};
use jni::{jni_sig, jni_str, JavaVM};
use resty_ffi_loader_host::{HostThread, LoadFailure};

use crate::load_failure::{java_failure, LoadOutcome};
use crate::{jvm_start, startup_abort};

/// Java code may recurse deeply (class loading, reflection): a roomy stack for init methods.
const STACK_SIZE: usize = 8 << 20;

struct LoadJob {
    cfg: String,
    tq: jlong,
    done: mpsc::SyncSender<LoadOutcome>,
}

struct JvmThread {
    jobs: mpsc::Sender<LoadJob>,
    host: HostThread,
}

static JVM_THREAD: OnceLock<Result<JvmThread, String>> = OnceLock::new();

fn spawn() -> Result<JvmThread, String> {
    let (jobs, inbox) = mpsc::channel::<LoadJob>();
    // The new thread has nginx's signals blocked from its first instruction on.
    let host = HostThread::spawn("resty-ffi-jvm", STACK_SIZE, move || serve(inbox))
        .map_err(|e| format!("cannot start the JVM thread: {e}"))?;
    Ok(JvmThread { jobs, host })
}

fn serve(inbox: mpsc::Receiver<LoadJob>) {
    // Started at the first load, whose libffi_init is answered even if the JVM aborts.
    let mut vm: Option<Result<JavaVM, String>> = None;
    let mut first = true;
    for job in inbox {
        let vm = vm.get_or_insert_with(|| startup_abort::guard(job.done.clone(), jvm_start::start));
        let outcome = match vm {
            Ok(vm) => {
                let run = std::panic::AssertUnwindSafe(|| run_loader(vm, &job.cfg, job.tq));
                std::panic::catch_unwind(run)
                    .unwrap_or_else(|_| Err(java_failure(1, "panic while loading a Java runtime")))
            }
            Err(e) if first => Err(java_failure(1, e.clone())),
            Err(e) => Err(java_failure(
                1,
                format!("no JVM in this worker: it failed to start: {e}"),
            )),
        };
        first = false;
        // libffi_init waits for this answer (it is gone only if the JVM aborted meanwhile).
        let _ = job.done.send(outcome);
    }
}

/// `resty.ffi.Loader.start(cfg, tq)`: loads the class and calls its init method; on failure
/// `Loader.takeLastError()` says why.
fn run_loader(vm: &JavaVM, cfg: &str, tq: jlong) -> LoadOutcome {
    let result = vm.attach_current_thread(|env| -> Result<(jint, Option<String>), jni::errors::Error> {
        let loader = env.find_class(jni_str!("resty/ffi/Loader"))?;
        let jcfg = env.new_string(cfg)?;
        let rc = env
            .call_static_method(
                &loader,
                jni_str!("start"),
                jni_sig!("(Ljava/lang/String;J)I"),
                &[JValue::Object(&jcfg), JValue::Long(tq)],
            )?
            .i()?;
        if rc == 0 {
            return Ok((0, None));
        }
        let error = env
            .call_static_method(
                &loader,
                jni_str!("takeLastError"),
                jni_sig!("()Ljava/lang/String;"),
                &[],
            )?
            .l()?;
        if error.is_null() {
            return Ok((rc, None));
        }
        let error = JString::cast_local(env, error)?;
        Ok((rc, Some(error.try_to_string(env)?)))
    });
    match result {
        Ok((0, _)) => Ok(()),
        Ok((rc, Some(msg))) => Err(LoadFailure::new(rc, msg)),
        Ok((rc, None)) => Err(java_failure(rc, format!("{cfg}: init returned {rc}"))),
        Err(e) => Err(java_failure(
            1,
            format!("resty.ffi.Loader.start(\"{cfg}\") failed: {e}"),
        )),
    }
}

/// Runs one load on the JVM thread (starting the thread and the JVM the first time).
pub fn load(cfg: String, tq: jlong) -> LoadOutcome {
    if let Some(why) = startup_abort::failure() {
        return Err(java_failure(1, why));
    }
    let jvm_thread = match JVM_THREAD.get_or_init(spawn) {
        Ok(t) => t,
        Err(e) => return Err(java_failure(1, e.clone())),
    };
    jvm_thread
        .host
        .check_owner("the JVM")
        .map_err(|e| java_failure(1, e))?;
    let (done, answer) = mpsc::sync_channel(1);
    if jvm_thread.jobs.send(LoadJob { cfg, tq, done }).is_err() {
        return Err(java_failure(1, "the JVM thread has exited"));
    }
    answer
        .recv()
        .unwrap_or_else(|_| Err(java_failure(1, "the JVM thread exited during a load")))
}
