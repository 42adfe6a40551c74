//! Serving tasks on a pool of threads with a blocking handler.

use std::any::Any;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use crate::body::Body;
use crate::task::{CallInfo, Reply, Task, TaskQueue};

/// The text a panic carried.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// The error reply for a panic in a handler, logged once.
pub(crate) fn panic_reply(payload: Box<dyn Any + Send>) -> Reply {
    let msg = panic_message(&*payload);
    log::error!("handler panicked: {msg}");
    Err((
        crate::RC_PANICKED,
        format!("handler panicked: {msg}").into_bytes(),
    ))
}

/// Runs `f`, turning a panic into an error reply.
pub(crate) fn guarded(f: impl FnOnce() -> Reply) -> Reply {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(panic_reply)
}

/// Starts `threads` threads that poll `tq` and answer each task with `handler(request)`.
/// A panicking handler answers with [`crate::RC_PANICKED`] and the thread keeps serving.
/// The threads end when the runtime is unloaded.
pub fn serve<H>(tq: TaskQueue, threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(&[u8]) -> Reply + Send + Sync + 'static,
{
    serve_with(tq, threads, move |req, _: &CallInfo| handler(req))
}

/// [`serve`] with a handler that also gets its call's [`CallInfo`]: the deadline (the Lua
/// call's timeout) and [`CallInfo::is_cancelled`], to check now and then in long work and
/// stop once the caller gave up (the answer is then freed unread; return any error, e.g.
/// `Err((RC_CANCELLED, ..))`).
pub fn serve_with<H>(tq: TaskQueue, threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(&[u8], &CallInfo) -> Reply + Send + Sync + 'static,
{
    serve_each(tq, threads, move |task| {
        let info = task.call_info();
        let reply = guarded(|| handler(task.request(), &info));
        task.respond(reply);
    })
}

/// Starts `threads` threads ("resty-ffi-N") that poll `tq` and hand each task to `serve`,
/// until the runtime is unloaded.
pub(crate) fn serve_each<F>(tq: TaskQueue, threads: usize, serve: F) -> io::Result<()>
where
    F: Fn(Task) + Send + Sync + 'static,
{
    let serve = Arc::new(serve);
    for i in 0..threads.max(1) {
        let serve = serve.clone();
        thread::Builder::new()
            .name(format!("resty-ffi-{i}"))
            .spawn(move || {
                while let Some(task) = tq.poll() {
                    serve(task);
                }
            })?;
    }
    Ok(())
}

/// What a [`serve_into`] handler returns: `Ok(())` answers the [`Body`] it wrote (`true, body`
/// in Lua), `Err((rc, bytes))` as a [`Reply`] error does (the body is dropped).
pub type BodyResult = Result<(), (i32, Vec<u8>)>;

/// As [`serve_with`], but the handler writes its answer into a [`Body`]: `malloc()`ed memory
/// the module takes over as it is, where a `Vec` reply is copied once more. For large answers
/// (a body of 16 KiB or less is copied by the module, as a `Vec` reply is: that is cheaper).
pub fn serve_into<H>(tq: TaskQueue, threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(&[u8], &CallInfo, &mut Body) -> BodyResult + Send + Sync + 'static,
{
    serve_each(tq, threads, move |task| {
        let info = task.call_info();
        let mut body = Body::new();
        let result = catch_unwind(AssertUnwindSafe(|| handler(task.request(), &info, &mut body)))
            .unwrap_or_else(|p| panic_reply(p).map(|_| ()));
        match result {
            Ok(()) => task.respond_body(body),
            Err(e) => task.respond(Err(e)),
        }
    })
}
