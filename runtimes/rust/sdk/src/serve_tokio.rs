//! Serving tasks on a tokio runtime with an async handler: many calls in flight at once.

use std::future::Future;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use crate::serve::panic_reply;
use crate::task::{Reply, TaskQueue};

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

/// Polls `tq` on a thread of its own and runs `handler(request)` for each task on a
/// multi-threaded tokio runtime (`worker_threads`, 0 = tokio's default). A panic in the
/// handler answers with [`crate::RC_PANICKED`]. After the unload, tasks in flight are still
/// answered before the runtime shuts down.
pub fn serve_async<H, F>(tq: TaskQueue, worker_threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(Vec<u8>) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("resty-ffi-tokio");
    if worker_threads > 0 {
        builder.worker_threads(worker_threads);
    }
    let rt = builder.build()?;
    let in_flight = Arc::new(InFlight::default());
    thread::Builder::new()
        .name("resty-ffi-poll".into())
        .spawn(move || {
            loop {
                let batch = tq.poll_batch(64);
                if batch.is_empty() {
                    break;
                }
                for task in batch {
                    let req = task.request().to_vec();
                    // Building the future may panic too.
                    let fut = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(req))) {
                        Ok(fut) => fut,
                        Err(p) => {
                            task.respond(panic_reply(p));
                            continue;
                        }
                    };
                    let job = rt.spawn(fut);
                    in_flight.add();
                    let in_flight = in_flight.clone();
                    rt.spawn(async move {
                        let reply = match job.await {
                            Ok(reply) => reply,
                            Err(e) if e.is_panic() => panic_reply(e.into_panic()),
                            Err(_) => Err((crate::RC_ERROR, b"handler cancelled".to_vec())),
                        };
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
