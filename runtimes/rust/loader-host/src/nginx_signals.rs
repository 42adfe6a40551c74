//! Keeping nginx's signals on nginx's thread.
//!
//! nginx handles SIGHUP, SIGQUIT, SIGTERM, SIGCHLD, ... with handlers that expect to run on
//! the worker's own thread. A thread inherits the signal mask of the thread that starts it,
//! so a runtime's threads started with these signals blocked (and every thread they start)
//! leave them to nginx. Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, ...) stay open: a JVM,
//! for one, needs them.

use std::ffi::c_int;
use std::io;
use std::thread;

/// The asynchronous signals nginx handles in its processes (the contract's list).
use resty_ffi_abi::NGINX_SIGNALS;

fn nginx_signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset right below.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid sigset; these calls only write into it (and cannot fail for these
    // valid signal numbers).
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in NGINX_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
    }
    set
}

/// Changes this thread's signal mask; returns the mask it had.
fn change_mask(how: c_int, set: &libc::sigset_t) -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; pthread_sigmask writes the old mask into it.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset pointers; pthread_sigmask changes only this thread's mask.
    let rc = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if rc == 0 {
        Ok(old)
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Puts the saved mask back when dropped, also when the closure unwinds.
struct RestoreMask(libc::sigset_t);

impl Drop for RestoreMask {
    fn drop(&mut self) {
        // Restoring a mask this thread had cannot fail; pending signals are delivered now.
        let _ = change_mask(libc::SIG_SETMASK, &self.0);
    }
}

/// Runs `f` with nginx's signals blocked on this thread, then restores the mask: every thread
/// `f` starts keeps them blocked.
fn with_nginx_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    let _restore = change_mask(libc::SIG_BLOCK, &nginx_signal_set())
        .ok()
        .map(RestoreMask);
    f()
}

/// Starts a thread with nginx's signals blocked from its first instruction on.
pub fn spawn_with_nginx_signals_blocked<F, T>(
    builder: thread::Builder,
    f: F,
) -> io::Result<thread::JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    with_nginx_signals_blocked(|| builder.spawn(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked_here() -> Vec<bool> {
        // SAFETY: reads this thread's mask into a zeroed sigset.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
            NGINX_SIGNALS
                .iter()
                .map(|&s| libc::sigismember(&cur, s) == 1)
                .collect()
        }
    }

    #[test]
    fn spawned_threads_inherit_the_block_and_the_caller_gets_its_mask_back() {
        thread::spawn(|| {
            assert!(blocked_here().iter().all(|b| !b));
            let child = spawn_with_nginx_signals_blocked(thread::Builder::new(), blocked_here)
                .expect("thread starts");
            assert!(child.join().expect("no panic").iter().all(|&b| b));
            assert!(blocked_here().iter().all(|b| !b));
        })
        .join()
        .expect("no panic");
    }
}
