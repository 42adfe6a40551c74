//! Streams: a call made with `rt:stream_x(req)` in Lua reads its answer in chunks. The
//! handler sends chunks with a [`ChunkSender`], then answers as usual (its reply's bytes, if
//! any, are the last chunk; an `Err` ends the stream with that rc and message).

use std::ffi::c_void;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::raw::{self, Sent};
use crate::serve::guarded;
use crate::task::{CallInfo, Reply, TaskQueue};

/// Why a chunk was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The caller stopped reading (`s:close()`, its timeout, its request ended): send no
    /// more and answer (the answer is freed unread). As a reply: `RC_CANCELLED`.
    Cancelled,
    /// The call is a plain `rt:x(req)` call, not a stream (or the module has no streams).
    NotStream,
    /// The call is already answered: a sender kept past its handler.
    Answered,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Cancelled => "cancelled: the caller stopped reading",
            SendError::NotStream => "not a stream call",
            SendError::Answered => "the call is already answered",
        })
    }
}

impl std::error::Error for SendError {}

/// `sender.send(chunk)?` in a handler: a failed send ends the call with an error reply
/// (`RC_CANCELLED` for a caller gone, `RC_ERROR` otherwise).
impl From<SendError> for (i32, Vec<u8>) {
    fn from(e: SendError) -> Self {
        let rc = match e {
            SendError::Cancelled => crate::RC_CANCELLED,
            _ => crate::RC_ERROR,
        };
        (rc, e.to_string().into_bytes())
    }
}

/// Shared by a task and its senders: sends happen under the lock, and the answer closes it
/// first, so every send has returned before the task is answered (the ABI's rule).
#[derive(Debug)]
pub(crate) struct Gate {
    task: usize,
    open: Mutex<bool>,
}

impl Gate {
    pub(crate) fn new(task: *mut c_void) -> Arc<Gate> {
        Arc::new(Gate {
            task: task as usize,
            open: Mutex::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a send in progress, then refuses any later one.
    pub(crate) fn close(&self) {
        *self.lock() = false;
    }

    fn send(&self, chunk: &[u8], block: bool) -> Sent {
        let open = self.lock();
        if !*open {
            return Sent::NotStream;
        }
        let abi = raw::stream_abi();
        let task = self.task as *mut c_void;
        // SAFETY: the gate is open, so the task is polled and unanswered, and its answer
        // waits for this lock (Task::answer closes the gate first).
        unsafe {
            if block {
                abi.send(task, chunk)
            } else {
                abi.try_send(task, chunk)
            }
        }
    }

    fn streaming(&self) -> bool {
        let open = self.lock();
        // SAFETY: as in send: the task is unanswered while the gate is open.
        *open && unsafe { raw::stream_abi().streaming(self.task as *mut c_void) }
    }
}

/// Sends the chunks of a stream call's answer, in order. Cheap to clone, `Send + Sync`;
/// clones share one lock, so their chunks never interleave within a chunk. Once the call is
/// answered every send fails with [`SendError::Answered`] (an answer waits for a send in
/// progress).
#[derive(Clone, Debug)]
pub struct ChunkSender {
    gate: Arc<Gate>,
}

fn outcome(sent: Sent, gate: &Gate) -> Result<bool, SendError> {
    match sent {
        Sent::Sent => Ok(true),
        Sent::WindowFull => Ok(false),
        Sent::Cancelled => Err(SendError::Cancelled),
        Sent::NotStream if !*gate.lock() => Err(SendError::Answered),
        Sent::NotStream => Err(SendError::NotStream),
    }
}

impl ChunkSender {
    pub(crate) fn new(gate: Arc<Gate>) -> Self {
        ChunkSender { gate }
    }

    /// Whether the caller reads this call as a stream (`rt:stream_x`), not a plain call.
    pub fn is_stream(&self) -> bool {
        self.gate.streaming()
    }

    /// Sends a chunk (copied), waiting while the caller's window is full. Blocks a thread:
    /// on tokio use [`send_async`](Self::send_async).
    pub fn send(&self, chunk: &[u8]) -> Result<(), SendError> {
        outcome(self.gate.send(chunk, true), &self.gate).map(|_| ())
    }

    /// Sends a chunk if the window has room: `Ok(true)` sent, `Ok(false)` full (nothing
    /// sent; try again once the caller read some).
    pub fn try_send(&self, chunk: &[u8]) -> Result<bool, SendError> {
        outcome(self.gate.send(chunk, false), &self.gate)
    }

    /// Sends a chunk without blocking a tokio worker: `try_send`, and while the window is
    /// full, yields a few times, then sleeps 1 ms doubling up to 16 ms between tries.
    ///
    /// Why not `spawn_blocking` with the blocking send: a handler future is dropped at an
    /// `.await` when its caller gives up, and a blocking send left running on the blocking
    /// pool would hold the answer back until it returns, one pool thread per stalled stream.
    /// A polled send never outlives the future. The cost is up to 16 ms of extra latency
    /// when the reader is slow, never when the window has room.
    #[cfg(feature = "tokio")]
    pub async fn send_async(&self, chunk: &[u8]) -> Result<(), SendError> {
        let mut tries = 0u32;
        loop {
            if self.try_send(chunk)? {
                return Ok(());
            }
            if tries < 4 {
                tokio::task::yield_now().await;
            } else {
                let ms = 1u64 << (tries - 4).min(4);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            tries = tries.saturating_add(1);
        }
    }
}

/// Serves with a blocking handler that may stream: it gets the request, its [`CallInfo`]
/// and a [`ChunkSender`] for the chunks of its answer (for a plain call,
/// [`ChunkSender::is_stream`] is false and a send fails with [`SendError::NotStream`]).
/// Its reply ends the stream. As [`crate::serve_with`] otherwise.
pub fn serve_stream<H>(tq: TaskQueue, threads: usize, handler: H) -> io::Result<()>
where
    H: Fn(&[u8], &CallInfo, &ChunkSender) -> Reply + Send + Sync + 'static,
{
    crate::serve::serve_each(tq, threads, move |task| {
        let info = task.call_info();
        let sender = task.chunk_sender();
        let reply = guarded(|| handler(task.request(), &info, &sender));
        task.respond(reply);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_nginx_a_sender_sends_nothing() {
        let gate = Gate::new(0x1000 as *mut c_void);
        let s = ChunkSender::new(gate.clone());
        assert!(!s.is_stream());
        assert_eq!(s.send(b"x"), Err(SendError::NotStream));
        assert_eq!(s.try_send(b"x"), Err(SendError::NotStream));
        gate.close();
        assert_eq!(s.send(b"x"), Err(SendError::Answered));
        assert!(!s.is_stream());
    }

    #[test]
    fn a_send_error_is_an_error_reply() {
        let (rc, msg): (i32, Vec<u8>) = SendError::Cancelled.into();
        assert_eq!(rc, crate::RC_CANCELLED);
        assert_eq!(msg, b"cancelled: the caller stopped reading");
        let (rc, _): (i32, Vec<u8>) = SendError::NotStream.into();
        assert_eq!(rc, crate::RC_ERROR);
    }
}
