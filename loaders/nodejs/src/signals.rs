//! Threads the loader starts never take nginx's signals.
//!
//! nginx handles SIGHUP, SIGQUIT, SIGTERM, SIGUSR1, SIGCHLD, ... on its worker thread. A
//! thread inherits the signal mask of the thread that starts it, so a thread born with those
//! signals blocked (and every thread it starts: Node's V8 platform workers, libuv's thread
//! pool, worker_threads) leaves them to nginx. libffi_init already runs with them blocked; the
//! loader blocks them again itself so it does not depend on that.

use std::ffi::c_int;
use std::io;
use std::thread;

/// The asynchronous signals nginx handles in its processes.
const NGINX_SIGNALS: [c_int; 10] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCHLD,
    libc::SIGALRM,
    libc::SIGIO,
];

/// Starts a thread with nginx's signals blocked from its first instruction on.
pub fn spawn<F>(name: &str, stack_size: usize, f: F) -> io::Result<thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `old` is written by pthread_sigmask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset pointers; pthread_sigmask only changes this thread's mask.
    let blocked = unsafe {
        libc::sigemptyset(&mut block);
        for sig in NGINX_SIGNALS {
            libc::sigaddset(&mut block, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) == 0
    };
    let spawned = thread::Builder::new()
        .name(name.to_string())
        .stack_size(stack_size)
        .spawn(f);
    if blocked {
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    spawned
}
