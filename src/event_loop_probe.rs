//! Whether nginx's event loop has other work waiting right now.
//!
//! A call that is the only thing the worker has to do is best waited for inside the call
//! (spinning, or on one CPU yielding the CPU to the runtime thread; see `worker::post`): no
//! Lua yield, no epoll round, no eventfd write. With other work waiting (another
//! connection's data, a posted event), waiting inside the call would hold that work up, and
//! a request whose calls follow each other would keep the worker from its event loop until
//! it ends: the call then goes through the event loop like any other.
//!
//! nginx keeps its epoll descriptor to itself. The worker finds it once, at init: it is the
//! epoll instance whose `/proc/self/fdinfo` lists our eventfd (registered just before), which
//! no other epoll instance of the process has (runtimes create theirs later, and never add
//! our eventfd). A zero-timeout `poll` of it then says whether any registered descriptor has
//! an event nginx has not collected yet; edge-triggered events nginx already collected do
//! not count. Unknown (no /proc, another event method): never idle, the event loop is used.

use std::cell::Cell;
use std::fs;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use nginx_sys::{ngx_event_t, ngx_posted_events, ngx_posted_next_events, ngx_queue_t};

thread_local! {
    /// The worker's epoll descriptor, once found.
    static EPOLL_FD: Cell<Option<RawFd>> = const { Cell::new(None) };
    /// When `idle` last found the loop idle by asking the kernel.
    static IDLE_SEEN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long an "idle" answer is trusted without asking the kernel again: a connection that
/// becomes ready meanwhile waits at most this long (plus one call) for its turn, and calls
/// that follow each other pay one `poll` per this interval, not one each.
const IDLE_TRUSTED: Duration = Duration::from_micros(50);

/// Worker init, after `registered_fd` was added to nginx's event loop: finds the loop's
/// epoll descriptor. False if it cannot be told (then `idle` is always false).
pub fn init(registered_fd: RawFd) -> bool {
    let found = find_epoll_watching(registered_fd);
    EPOLL_FD.with(|c| c.set(found));
    found.is_some()
}

fn find_epoll_watching(target: RawFd) -> Option<RawFd> {
    // Each watched descriptor is a line "tfd: %8d events: ..." (fs/eventpoll.c).
    let wanted = format!("tfd: {target:>8} ");
    let mut found = None;
    for entry in fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<RawFd>().ok()) else {
            continue;
        };
        let is_epoll = fs::read_link(entry.path())
            .is_ok_and(|p| p.as_os_str() == "anon_inode:[eventpoll]");
        if !is_epoll {
            continue;
        }
        let Ok(info) = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        if info.lines().any(|l| l.starts_with(&wanted)) {
            if found.is_some() {
                // Two instances watch it: cannot tell which one nginx waits on.
                return None;
            }
            found = Some(fd);
        }
    }
    found
}

/// True if nginx has nothing else to do at this moment: no posted event waits (but `own`, the
/// caller's own events on the "next" queue, which only poll) and no descriptor of its event
/// loop has an uncollected event. Expired timers and signals are not seen here: nginx looks
/// at them only between two iterations, which the caller must let happen now and then (see
/// `worker::may_wait_in_call`). Worker thread only.
pub fn idle(own: &[&ngx_event_t], now: Instant) -> bool {
    let Some(epfd) = EPOLL_FD.with(|c| c.get()) else {
        return false;
    };
    // SAFETY: worker thread, the only user of nginx's posted-event queues; reading their
    // links does not change them.
    let posted = unsafe {
        !queue_empty(std::ptr::addr_of_mut!(ngx_posted_events))
            || !queue_holds_only(std::ptr::addr_of_mut!(ngx_posted_next_events), own)
    };
    if posted {
        return false;
    }
    if IDLE_SEEN.with(|c| c.get()).is_some_and(|at| now.saturating_duration_since(at) < IDLE_TRUSTED) {
        return true;
    }
    let mut pfd = libc::pollfd {
        fd: epfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd we own, zero timeout: never blocks. nginx's epoll descriptor lives
    // as long as the worker; polling it collects nothing (only epoll_wait does).
    let idle = unsafe { libc::poll(&mut pfd, 1, 0) } == 0;
    IDLE_SEEN.with(|c| c.set(idle.then_some(now)));
    idle
}

/// # Safety
/// `q` points to a live, initialized nginx queue head.
unsafe fn queue_empty(q: *mut ngx_queue_t) -> bool {
    (*q).next == q
}

/// Empty, or holding only events of `own` (each is posted at most once, so the queue holds
/// at most `own.len()` links; a longer one holds something else).
///
/// # Safety
/// `q` points to a live, initialized nginx queue head.
unsafe fn queue_holds_only(q: *mut ngx_queue_t, own: &[&ngx_event_t]) -> bool {
    let mut link = (*q).next;
    for _ in 0..=own.len() {
        if link == q {
            return true;
        }
        if !own.iter().any(|e| std::ptr::addr_of!(e.queue).cast_mut() == link) {
            return false;
        }
        link = (*link).next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fd(RawFd);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: closes a descriptor this test opened.
            unsafe { libc::close(self.0) };
        }
    }

    fn watch(epfd: RawFd, fd: RawFd) {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: 0,
        };
        // SAFETY: both descriptors are open; ev is ours.
        assert_eq!(unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) }, 0);
    }

    #[test]
    fn the_epoll_instance_watching_a_descriptor_is_found_only_if_unique() {
        // SAFETY: plain syscalls creating descriptors owned by the guards.
        let (ep1, ep2, efd, other) = unsafe {
            (
                Fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
                Fd(libc::epoll_create1(libc::EPOLL_CLOEXEC)),
                Fd(libc::eventfd(0, libc::EFD_CLOEXEC)),
                Fd(libc::eventfd(0, libc::EFD_CLOEXEC)),
            )
        };
        assert!(ep1.0 >= 0 && ep2.0 >= 0 && efd.0 >= 0 && other.0 >= 0);
        assert_eq!(find_epoll_watching(efd.0), None, "watched by nobody yet");
        watch(ep1.0, efd.0);
        watch(ep2.0, other.0);
        assert_eq!(find_epoll_watching(efd.0), Some(ep1.0));
        watch(ep2.0, efd.0);
        assert_eq!(find_epoll_watching(efd.0), None, "two instances: cannot tell");
    }
}
