//! The thread a loader runs its language on (the JVM's, Node's).

use std::io;
use std::thread;

use crate::nginx_signals::spawn_with_nginx_signals_blocked;

/// A language's own thread in a worker. It is born with nginx's signals blocked, so it and
/// every thread it starts leave them to nginx's thread; and it belongs to the process that
/// started it: a child forked after that has no such thread.
#[derive(Debug)]
pub struct HostThread {
    pid: u32,
}

impl HostThread {
    /// Starts `body` on a thread named `name` with a stack of `stack_size` bytes.
    pub fn spawn(
        name: &str,
        stack_size: usize,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<HostThread> {
        let builder = thread::Builder::new()
            .name(name.to_string())
            .stack_size(stack_size);
        spawn_with_nginx_signals_blocked(builder, body)?;
        Ok(HostThread {
            pid: std::process::id(),
        })
    }

    /// Ok in the process that started the thread; in a child forked after that, why not
    /// (`what` names the language: "the JVM", "Node.js").
    pub fn check_owner(&self, what: &str) -> Result<(), String> {
        if self.pid == std::process::id() {
            Ok(())
        } else {
            Err(format!(
                "{what} belongs to process {}: this process was forked after it started",
                self.pid
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn the_thread_runs_and_belongs_to_this_process() {
        let (done, ran) = mpsc::channel();
        let host = HostThread::spawn("host-test", 64 << 10, move || {
            let _ = done.send(thread::current().name().map(str::to_string));
        })
        .expect("thread starts");
        assert_eq!(ran.recv().ok().flatten().as_deref(), Some("host-test"));
        assert_eq!(host.check_owner("the test"), Ok(()));
        let forked = HostThread { pid: host.pid + 1 };
        let e = forked.check_owner("the test").unwrap_err();
        assert!(e.starts_with("the test belongs to process"), "{e}");
    }
}
