//! When the library of an unloaded `unpin` runtime may be unmapped (`dlclose`).
//!
//! Returning from `task_poll` (and from `respond`, `get_req`) already runs library code, so
//! the library can only go once no thread of the runtime can run it any more. The module
//! knows two kinds of such threads: those `libffi_init` started (threads of the process that
//! appeared while it ran) and those that called into the module for the runtime (`task_poll`,
//! `get_req`, `respond`, `cancel_poll`, `task_send`). After the unload the worker checks now
//! and then whether every one of them has exited (the kernel no longer knows its thread id), and that no call posted to
//! the runtime is left unanswered (a runtime may hand a call to a thread it starts for it,
//! which runs the library's code unrecorded until it answers); only then is the library
//! closed. A runtime whose threads never exit (Go's) stays mapped, which is always safe.

use std::cell::Cell;
use std::sync::Mutex;

/// Threads that may run an unpinned runtime's code.
#[derive(Default)]
pub struct ThreadUsers {
    tids: Mutex<Vec<libc::pid_t>>,
}

fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

fn thread_exists(tid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the thread exists in this process.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The ids of the process's threads now.
pub fn process_threads() -> Vec<libc::pid_t> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

impl ThreadUsers {
    /// Threads that appeared between two [`process_threads`] snapshots.
    pub fn add_new_threads(&self, before: &[libc::pid_t], after: &[libc::pid_t]) {
        let mut tids = self.lock();
        tids.extend(after.iter().filter(|t| !before.contains(t)));
    }

    /// The calling thread runs this runtime's code. Cheap when called again by the same
    /// thread for the same runtime.
    pub fn note_current_thread(&self) {
        thread_local! {
            static LAST: Cell<usize> = const { Cell::new(0) };
        }
        let me = self as *const Self as usize;
        if LAST.with(Cell::get) == me {
            return;
        }
        LAST.with(|l| l.set(me));
        let tid = gettid();
        let mut tids = self.lock();
        if !tids.contains(&tid) {
            tids.push(tid);
        }
    }

    /// Forgets threads that exited; true when none is left.
    pub fn all_exited(&self) -> bool {
        let mut tids = self.lock();
        tids.retain(|&t| thread_exists(t));
        tids.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<libc::pid_t>> {
        self.tids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_counts_until_it_exits() {
        let users = std::sync::Arc::new(ThreadUsers::default());
        let u = users.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            u.note_current_thread();
            u.note_current_thread();
            let _ = rx.recv();
        });
        while users.lock().is_empty() {
            std::thread::yield_now();
        }
        assert_eq!(users.lock().len(), 1);
        assert!(!users.all_exited());
        drop(tx);
        t.join().unwrap();
        assert!(users.all_exited());
    }

    #[test]
    fn threads_started_between_snapshots_are_tracked() {
        let users = ThreadUsers::default();
        let before = process_threads();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        let after = process_threads();
        users.add_new_threads(&before, &after);
        assert!(!users.all_exited());
        drop(tx);
        t.join().unwrap();
        // Threads of other tests may have started in between too: they end soon.
        let gone = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            users.all_exited()
        });
        assert!(gone);
    }
}
