//! A runtime's request queue: the worker pushes tasks, runtime threads poll them.
//!
//! Bounded by `max_queue` (tasks not yet taken). After `unload`, pollers still get every
//! task queued before it, then `None` forever.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::task::TaskPtr;

/// Why a task could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    Full,
    Unloaded,
}

impl PushError {
    pub fn message(&self) -> &'static str {
        match self {
            PushError::Full => "queue full",
            PushError::Unloaded => "runtime unloaded",
        }
    }
}

struct State {
    tasks: VecDeque<TaskPtr>,
    unloaded: bool,
    /// Pollers parked on the condvar: a push wakes one only if there is one.
    sleepers: usize,
}

/// The `tq` handed to `libffi_init`.
pub struct RequestQueue {
    state: Mutex<State>,
    ready: Condvar,
    max_queue: usize,
}

impl RequestQueue {
    pub fn new(max_queue: usize) -> Self {
        Self {
            state: Mutex::new(State {
                tasks: VecDeque::new(),
                unloaded: false,
                sleepers: 0,
            }),
            ready: Condvar::new(),
            max_queue: max_queue.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover the data if it ever did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Worker side: queues a task, waking one parked poller.
    pub fn push(&self, task: TaskPtr) -> Result<(), PushError> {
        let wake = {
            let mut st = self.lock();
            if st.unloaded {
                return Err(PushError::Unloaded);
            }
            if st.tasks.len() >= self.max_queue {
                return Err(PushError::Full);
            }
            st.tasks.push_back(task);
            st.sleepers > 0
        };
        // Notify after unlocking: the woken poller does not block on our lock.
        if wake {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Runtime side: blocks until a task is there; `None` once unloaded and drained.
    pub fn poll(&self) -> Option<TaskPtr> {
        let mut st = self.lock();
        loop {
            if let Some(task) = st.tasks.pop_front() {
                task.mark_taken();
                return Some(task);
            }
            if st.unloaded {
                return None;
            }
            st.sleepers += 1;
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
            st.sleepers -= 1;
        }
    }

    /// Worker side: no more pushes; pollers drain what is queued, then get `None`.
    pub fn unload(&self) {
        self.lock().unloaded = true;
        self.ready.notify_all();
    }

    pub fn is_unloaded(&self) -> bool {
        self.lock().unloaded
    }

    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_and_unloaded_are_reported() {
        let q = RequestQueue::new(1);
        let a = TaskPtr::new(b"a", std::ptr::null_mut()).unwrap();
        let b = TaskPtr::new(b"b", std::ptr::null_mut()).unwrap();
        assert_eq!(q.push(a), Ok(()));
        assert_eq!(q.push(b), Err(PushError::Full));
        q.unload();
        assert_eq!(q.push(b), Err(PushError::Unloaded));
        // Queued before the unload: still delivered, then None.
        assert_eq!(q.poll(), Some(a));
        assert_eq!(q.poll(), None);
        unsafe {
            a.free();
            b.free();
        }
    }

    #[test]
    fn parked_poller_is_woken_by_push_and_by_unload() {
        let q = Arc::new(RequestQueue::new(16));
        let q2 = q.clone();
        let poller = std::thread::spawn(move || {
            let mut got = 0;
            while let Some(t) = q2.poll() {
                unsafe { t.free() };
                got += 1;
            }
            got
        });
        for _ in 0..100 {
            while q.push(TaskPtr::new(b"x", std::ptr::null_mut()).unwrap()).is_err() {
                std::thread::yield_now();
            }
        }
        q.unload();
        assert_eq!(poller.join().unwrap(), 100);
    }
}
