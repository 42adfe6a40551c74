//! Serving tasks on a tokio runtime with an async handler: many calls in flight at once.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;

use tokio::task::AbortHandle;

use crate::raw;
use crate::serve::panic_reply;
use crate::stream::ChunkSender;
use crate::task::{CallInfo, Reply, Task, TaskId, TaskQueue};

/// Counts tasks handed to tokio and not answered yet.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

impl InFlight {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn done(&self) {
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            n = self.idle.wait(n).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The abort handles of the handler futures in flight, by call: the cancel thread aborts
/// the future of a call its caller gave up on.
#[derive(Default)]
struct Aborts(Mutex<HashMap<TaskId, AbortHandle>>);

impl Aborts {
    fn insert(&self, id: TaskId, handle: AbortHandle) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, handle);
    }

    fn remove(&self, id: TaskId) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn abort(&self, id: TaskId) {
        if let Some(handle) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            handle.abort();
        }
    }
}

/// Polls `tq` on a thread of its own and runs `handler(request)` for each task on a
/// multi-threaded tokio runtime (`worker_threads`, 0 = tokio's default). A panic in the
/// handler answers with [`crate::RC_PANICKED`]. When a call's caller gives up (timeout,
/// client abort, ngx.exit, ...), its handler future is dropped at its next `.await` and the
/// call answered [`crate::RC_CANCELLED`] (freed unread). After the unload, tasks in flight
/// are still answered before the runtime shuts down.
pub fn serve_async<H, F>(tq: TaskQueue, worker_threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_async_with(tq, worker_threads, move |req, _: CallInfo| handler(req))
}

/// [`serve_async`] with a handler that also gets its call's [`CallInfo`] (its deadline, e.g.
/// for `tokio::time::timeout_at`, and whether it is cancelled).
pub fn serve_async_with<H, F>(tq: TaskQueue, worker_threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(Vec<u8>, CallInfo) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_tasks(tq, worker_threads, move |task: &Task| {
        handler(task.request().to_vec(), task.call_info())
    })
}

/// [`serve_async_with`] with a handler that may stream its answer: it also gets a
/// [`ChunkSender`]; send with [`ChunkSender::send_async`] (polls the window, never blocks a
/// worker). A future dropped because its caller gave up never has a send in progress.
pub fn serve_async_stream<H, F>(tq: TaskQueue, worker_threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(Vec<u8>, CallInfo, ChunkSender) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    serve_tasks(tq, worker_threads, move |task: &Task| {
        handler(task.request().to_vec(), task.call_info(), task.chunk_sender())
    })
}

/// The async server: `handler` makes each task's future.
fn serve_tasks<H, F>(tq: TaskQueue, worker_threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(&Task) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("resty-ffi-tokio");
    if worker_threads > 0 {
        builder.worker_threads(worker_threads);
    }
    let rt = builder.build()?;
    let in_flight = Arc::new(InFlight::default());
    let aborts = Arc::new(Aborts::default());
    if raw::module_abi().is_ok_and(|abi| abi.announces_cancellations()) {
        let aborts = aborts.clone();
        let (listening, started) = mpsc::channel();
        thread::Builder::new()
            .name("resty-ffi-cancel".into())
            .spawn(move || {
                let _ = listening.send(());
                // Empty once unloaded: no more announcements, and tq must not be touched.
                loop {
                    let cancelled = tq.poll_cancelled(64);
                    if cancelled.is_empty() {
                        break;
                    }
                    for id in cancelled {
                        aborts.abort(id);
                    }
                }
            })?;
        // Up to the moment it polls: announcements are kept from its first poll on, and
        // the first task comes only after libffi_init returned.
        let _ = started.recv();
    }
    thread::Builder::new()
        .name("resty-ffi-poll".into())
        .spawn(move || {
            loop {
                let batch = tq.poll_batch(64);
                if batch.is_empty() {
                    break;
                }
                for task in batch {
                    let id = task.id();
                    // Building the future may panic too.
                    let fut = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&task)))
                    {
                        Ok(fut) => fut,
                        Err(p) => {
                            task.respond(panic_reply(p));
                            continue;
                        }
                    };
                    let job = rt.spawn(fut);
                    aborts.insert(id, job.abort_handle());
                    // Given up on before its abort handle was there to find.
                    if task.is_cancelled() {
                        job.abort();
                    }
                    in_flight.add();
                    let in_flight = in_flight.clone();
                    let aborts = aborts.clone();
                    rt.spawn(async move {
                        let reply = match job.await {
                            Ok(reply) => reply,
                            Err(e) if e.is_panic() => panic_reply(e.into_panic()),
                            Err(_) => Err((crate::RC_CANCELLED, b"cancelled: the caller gave up".to_vec())),
                        };
                        // Before the answer, after which the id may be another call's.
                        aborts.remove(id);
                        task.respond(reply);
                        in_flight.done();
                    });
                }
            }
            in_flight.wait_idle();
            drop(rt);
        })?;
    Ok(())
}
