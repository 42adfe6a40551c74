//! A call whose answer comes in chunks (`rt:stream_anyname(req)` in Lua), with a bounded
//! window: the runtime's `send` waits while the chunks Lua has not read yet fill it, so a
//! stream of any length holds at most a window (plus one chunk) in memory.
//!
//! Shared by the runtime threads that send and the worker thread that hands chunks to Lua;
//! the task keeps it (an `Arc`) until it is freed, and a sender holds its own clone while it
//! waits, so a sender is never left with freed memory whatever the task does meanwhile.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The window a stream call gets unless it asks for another one.
pub const DEFAULT_WINDOW: usize = 256 * 1024;

/// What a queued chunk costs beyond its bytes (its `Vec` in the queue, the allocator's
/// header and rounding, its event on the done-queue), counted against the window: without
/// it, 1-byte chunks held some 80 times the window in memory (t/033 TEST 18).
pub const CHUNK_COST: usize = 64;

/// How often a waiting sender looks at its task's cancel flag on its own (a cancel also
/// wakes it at once; this bounds the cost of a missed wake-up).
const RECHECK: Duration = Duration::from_millis(100);

/// What became of a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// The window is full (a non-blocking send only).
    WouldBlock,
    /// The caller gave up: stop sending, then answer the task.
    Cancelled,
}

#[derive(Default)]
struct Chunks {
    queue: VecDeque<Vec<u8>>,
    /// What the queued chunks cost: their bytes plus `CHUNK_COST` each.
    bytes: usize,
    senders_waiting: usize,
    cancelled: bool,
}

pub struct Stream {
    window: usize,
    chunks: Mutex<Chunks>,
    room: Condvar,
}

impl Stream {
    pub fn new(window: usize) -> Self {
        Stream {
            window: window.max(1),
            chunks: Mutex::new(Chunks::default()),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Chunks> {
        self.chunks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runtime side: queues a copy of `chunk` (an empty one is not queued: `Sent`, or
    /// `Cancelled` if the caller is gone). A chunk always fits into an empty window
    /// (so one larger than the window still goes through, alone); otherwise waits for room
    /// (`block`) or says it would.
    pub fn send(&self, chunk: &[u8], block: bool) -> Sent {
        let mut c = self.lock();
        loop {
            if c.cancelled {
                return Sent::Cancelled;
            }
            // Nothing to send: nothing is queued (no window bounds empty chunks, so a runtime
            // sending them in a loop would grow the queue without end).
            if chunk.is_empty() {
                return Sent::Sent;
            }
            if c.bytes == 0 || c.bytes + cost(chunk) <= self.window {
                break;
            }
            if !block {
                return Sent::WouldBlock;
            }
            c.senders_waiting += 1;
            c = self
                .room
                .wait_timeout(c, RECHECK)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            c.senders_waiting -= 1;
        }
        c.bytes += cost(chunk);
        c.queue.push_back(chunk.to_vec());
        Sent::Sent
    }

    /// Worker side: the next chunk Lua has not read, if any; makes room for senders.
    pub fn pop(&self) -> Option<Vec<u8>> {
        let (chunk, wake) = {
            let mut c = self.lock();
            let chunk = c.queue.pop_front()?;
            c.bytes -= cost(&chunk);
            (chunk, c.senders_waiting > 0)
        };
        if wake {
            self.room.notify_all();
        }
        Some(chunk)
    }

    /// Worker side: the reader is gone. Senders get `Cancelled` (waiting ones at once), and
    /// the chunks nobody will read are dropped.
    pub fn cancel(&self) {
        {
            let mut c = self.lock();
            c.cancelled = true;
            c.queue.clear();
            c.bytes = 0;
        }
        self.room.notify_all();
    }

    /// What the chunks sent and not read yet cost (for tests).
    pub fn buffered(&self) -> usize {
        self.lock().bytes
    }
}

/// A chunk's share of the window.
fn cost(chunk: &[u8]) -> usize {
    chunk.len().saturating_add(CHUNK_COST)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn chunks_come_out_in_order_and_the_window_holds_senders() {
        let s = Arc::new(Stream::new(10 + 2 * CHUNK_COST));
        assert_eq!(s.send(b"0123456", false), Sent::Sent);
        assert_eq!(s.send(b"789", false), Sent::Sent);
        assert_eq!(s.send(b"x", false), Sent::WouldBlock, "the window is full");
        let sender = {
            let s = s.clone();
            std::thread::spawn(move || s.send(b"abc", true))
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!sender.is_finished(), "waits for room");
        assert_eq!(s.pop().as_deref(), Some(&b"0123456"[..]));
        assert_eq!(sender.join().ok(), Some(Sent::Sent));
        assert_eq!(s.pop().as_deref(), Some(&b"789"[..]));
        assert_eq!(s.pop().as_deref(), Some(&b"abc"[..]));
        assert_eq!(s.pop(), None);
    }

    #[test]
    fn empty_chunks_are_not_queued() {
        let s = Stream::new(1);
        for _ in 0..1000 {
            assert_eq!(s.send(b"", true), Sent::Sent);
        }
        assert_eq!(s.pop(), None);
        s.cancel();
        assert_eq!(s.send(b"", false), Sent::Cancelled);
    }

    #[test]
    fn a_chunk_larger_than_the_window_goes_alone() {
        let s = Stream::new(4);
        assert_eq!(s.send(b"0123456789", false), Sent::Sent);
        assert_eq!(s.send(b"x", false), Sent::WouldBlock);
        assert_eq!(s.buffered(), 10 + CHUNK_COST);
    }

    #[test]
    fn each_chunk_costs_its_bookkeeping_too() {
        let s = Stream::new(1000);
        let mut sent = 0;
        while s.send(b"x", false) == Sent::Sent {
            sent += 1;
        }
        assert_eq!(sent, 1000 / (1 + CHUNK_COST));
    }

    #[test]
    fn cancel_wakes_a_waiting_sender_and_drops_the_chunks() {
        let s = Arc::new(Stream::new(1));
        assert_eq!(s.send(b"a", true), Sent::Sent);
        let sender = {
            let s = s.clone();
            std::thread::spawn(move || s.send(b"b", true))
        };
        std::thread::sleep(Duration::from_millis(20));
        s.cancel();
        assert_eq!(sender.join().ok(), Some(Sent::Cancelled));
        assert_eq!(s.buffered(), 0);
        assert_eq!(s.send(b"c", true), Sent::Cancelled);
    }
}
