//! Keeps nginx's signals on nginx's thread.
//!
//! nginx handles SIGHUP, SIGQUIT, SIGCHLD, ... with handlers that expect to run on the
//! worker's main thread. Threads a runtime starts inherit the signal mask of the thread that
//! starts them, so `libffi_init` runs with those signals blocked: the runtime's threads (and
//! the threads they start) never receive them, as nginx's own thread pool does. Synchronous
//! signals (SIGSEGV, SIGBUS, SIGFPE, ...) stay open: a JVM needs them.

/// The asynchronous signals nginx handles in its processes (the contract's list).
use resty_ffi_abi::NGINX_SIGNALS;

/// Runs `f` with nginx's signals blocked on this thread, then restores the mask.
pub fn with_nginx_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialize it.
    let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset pointers; pthread_sigmask only changes this thread's mask.
    let blocked = unsafe {
        libc::sigemptyset(&mut block);
        for s in NGINX_SIGNALS {
            libc::sigaddset(&mut block, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) == 0
    };
    let r = f();
    if blocked {
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hup_blocked() -> bool {
        // SAFETY: reads this thread's mask into a zeroed sigset.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
            libc::sigismember(&cur, libc::SIGHUP) == 1
        }
    }

    #[test]
    fn threads_started_inside_inherit_the_block_and_the_caller_gets_its_mask_back() {
        assert!(!hup_blocked());
        let child = with_nginx_signals_blocked(|| std::thread::spawn(hup_blocked));
        assert!(child.join().unwrap());
        assert!(!hup_blocked());
    }
}
