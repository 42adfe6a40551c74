//! The done-queue: runtime threads hand finished tasks back to the worker.
//!
//! A lock-free queue plus an eventfd. A responder pushes the task and writes the eventfd
//! only if no wake-up is pending yet (`armed`), so a burst of answers costs one write and
//! one epoll wake-up. The worker's handler disarms first, then drains everything.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_queue::SegQueue;

use crate::task::TaskPtr;

/// What a runtime thread hands back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// The task's answer (its final one, for a stream).
    Answer(TaskPtr),
    /// A stream call got a chunk.
    Chunk(TaskPtr),
}

pub struct DoneQueue {
    fd: RawFd,
    tasks: SegQueue<Done>,
    /// A wake-up is pending (written and not yet handled).
    armed: AtomicBool,
    /// Answers to tasks that were not waiting for one (answered twice, never taken).
    stray_responds: AtomicUsize,
}

static DONE_QUEUE: OnceLock<DoneQueue> = OnceLock::new();

/// The worker's done-queue, creating its eventfd on first use.
pub fn get_or_init() -> Result<&'static DoneQueue, String> {
    if let Some(q) = DONE_QUEUE.get() {
        return Ok(q);
    }
    // SAFETY: plain syscall; the flags are valid for eventfd.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("eventfd() failed: {}", std::io::Error::last_os_error()));
    }
    let q = DONE_QUEUE.get_or_init(|| DoneQueue {
        fd,
        tasks: SegQueue::new(),
        armed: AtomicBool::new(false),
        stray_responds: AtomicUsize::new(0),
    });
    if q.fd != fd {
        // Lost a race with another initializer (cannot happen on the worker, but be exact).
        // SAFETY: fd is ours and unused.
        unsafe { libc::close(fd) };
    }
    Ok(q)
}

/// The done-queue if the worker has one (runtime threads must not create it).
pub fn get() -> Option<&'static DoneQueue> {
    DONE_QUEUE.get()
}

impl DoneQueue {
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Any thread, right after a successful `TaskPtr::respond`: hands the answer to the worker,
    /// in the task's slot if the worker waits for it inside the call (`TaskPtr::watch`), else
    /// through this queue.
    pub fn push_answer(&self, task: TaskPtr) {
        if !task.hand_to_watcher() {
            self.push(task);
        }
    }

    /// Any thread: hands a finished task to the worker.
    fn push(&self, task: TaskPtr) {
        self.tasks.push(Done::Answer(task));
        self.notify();
    }

    /// Any thread: a stream call got a chunk.
    pub fn push_chunk(&self, task: TaskPtr) {
        self.tasks.push(Done::Chunk(task));
        self.notify();
    }

    /// Any thread: makes the worker run its handler soon (one eventfd write per wake-up).
    pub fn notify(&self) {
        if !self.armed.swap(true, Ordering::AcqRel) {
            self.wake();
        }
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. EAGAIN (counter at its
        // maximum) still leaves the fd readable, so the worker wakes anyway.
        unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
    }

    /// Worker side: while the worker polls the queue itself (see `worker::spin_for_answers`),
    /// responders need not write the eventfd: mark a wake-up as pending. The worker must
    /// `drain` when it stops polling.
    pub fn hold_wakeups(&self) {
        self.armed.store(true, Ordering::Release);
    }

    /// Worker side: like `hold_wakeups`, for a short wait that ends with `release_hold`,
    /// taken only when no wake-up is pending (true: the hold is ours; false: the eventfd
    /// was written or another hold is on, and the eventfd handler drains as usual).
    pub fn try_hold_wakeups(&self) -> bool {
        !self.armed.swap(true, Ordering::AcqRel)
    }

    /// Worker side: ends a hold taken by `try_hold_wakeups` without a system call:
    /// responders write the eventfd again, and what came meanwhile is popped.
    pub fn release_hold(&self, mut each: impl FnMut(Done)) {
        // A swap, not a store: it reads a responder's swap that saw the hold, so that
        // responder's push is visible to the pops below (its own wake-up was skipped).
        self.armed.swap(false, Ordering::AcqRel);
        while let Some(task) = self.tasks.pop() {
            each(task);
        }
    }

    /// Worker side: pops every finished task, leaving the eventfd and the flag alone.
    pub fn pop_each(&self, mut each: impl FnMut(Done)) {
        while let Some(task) = self.tasks.pop() {
            each(task);
        }
    }

    /// Worker side: clears the pending flag, then pops every task. `reset_fd`: also read
    /// the eventfd back to zero, which a level-triggered event loop needs. Edge-triggered
    /// (nginx's epoll) needs no read: every write is a new edge, and the counter cannot fill
    /// up (one write per wake-up, 2^64 - 2 of them), so the wake-up costs one system call less.
    pub fn drain(&self, reset_fd: bool, mut each: impl FnMut(Done)) {
        if reset_fd {
            let mut buf: u64 = 0;
            // SAFETY: reads into a live u64 from our non-blocking eventfd; one read resets it.
            unsafe { libc::read(self.fd, (&mut buf as *mut u64).cast(), 8) };
        }
        // Disarm before popping: a push after this either is popped below or writes again.
        self.armed.swap(false, Ordering::AcqRel);
        while let Some(task) = self.tasks.pop() {
            each(task);
        }
    }

    /// Any thread: counts an answer that had no task waiting for it; the worker logs it.
    pub fn note_stray_respond(&self) {
        self.stray_responds.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }

    /// Worker side: stray responds seen since the last call.
    pub fn take_stray_responds(&self) -> usize {
        self.stray_responds.swap(0, Ordering::Relaxed)
    }
}
