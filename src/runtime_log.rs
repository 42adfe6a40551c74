//! Logging from runtime threads into nginx's error.log.
//!
//! `ngx_http_resty_ffi_log(level, msg, len)` may be called from any thread. nginx's logger
//! is not for other threads, so the message is queued (bounded: a flood drops the excess and
//! counts it, never blocks, never grows) and the worker writes it with `ngx_log_error` when
//! the eventfd fires. So `error_log` levels apply and `nginx -s reopen` keeps working.

use std::cell::RefCell;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crossbeam_queue::ArrayQueue;
use nginx_sys::{ngx_log_t, NGX_LOG_DEBUG, NGX_LOG_EMERG, NGX_LOG_ERR, NGX_LOG_WARN};
use ngx::ngx_log_error;

/// Messages waiting for the worker.
const CAPACITY: usize = 4096;
/// Longer messages are cut (nginx's own line limit is 2048 bytes).
const MAX_MESSAGE: usize = 1800;

struct Record {
    level: usize,
    text: Box<str>,
}

struct LogQueue {
    records: ArrayQueue<Record>,
    dropped: AtomicUsize,
    /// The error_log level of the cycle, so filtered messages are not even queued.
    max_level: AtomicUsize,
}

static LOG_QUEUE: OnceLock<LogQueue> = OnceLock::new();

fn queue() -> &'static LogQueue {
    LOG_QUEUE.get_or_init(|| LogQueue {
        records: ArrayQueue::new(CAPACITY),
        dropped: AtomicUsize::new(0),
        max_level: AtomicUsize::new(NGX_LOG_DEBUG as usize),
    })
}

/// Worker side: remember the current error_log level (called at init and each drain).
pub fn set_max_level(level: usize) {
    queue().max_level.store(level, Ordering::Relaxed);
}

thread_local! {
    /// While a runtime's `libffi_init` runs on this thread: the last error it logged.
    static INIT_ERROR: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Runs a runtime's init; returns its result and the last message of level `err` or worse
/// that it logged meanwhile (so that `load_ffi` can say why the init failed).
pub fn capture_init_error<R>(init: impl FnOnce() -> R) -> (R, Option<String>) {
    INIT_ERROR.with(|c| *c.borrow_mut() = Some(None));
    let r = init();
    let msg = INIT_ERROR.with(|c| c.borrow_mut().take()).flatten();
    (r, msg)
}

fn note_init_error(level: usize, text: &str) {
    if level > NGX_LOG_ERR as usize {
        return;
    }
    INIT_ERROR.with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            if let Some(last) = slot.as_mut() {
                *last = Some(text.to_string());
            }
        }
    });
}

/// A runtime's message as one safe log line: trailing whitespace dropped, control bytes
/// (a newline could forge a line of its own, a NUL makes the file binary) and bytes that are
/// not UTF-8 written as `\xHH`, as nginx writes untrusted bytes.
pub fn escape(msg: &[u8]) -> String {
    let end = msg
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let mut out = String::with_capacity(end);
    for chunk in msg[..end].utf8_chunks() {
        for c in chunk.valid().chars() {
            if (c.is_ascii_control() && c != '\t') || c == '\u{7f}' {
                let _ = write!(out, "\\x{:02X}", c as u32);
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

/// Any thread: queues one message. Returns false if it was dropped (queue full) or filtered.
pub fn push(level: usize, msg: &[u8]) -> bool {
    let level = level.clamp(NGX_LOG_EMERG as usize, NGX_LOG_DEBUG as usize);
    let msg = &msg[..msg.len().min(MAX_MESSAGE)];
    let q = queue();
    let wanted = level <= q.max_level.load(Ordering::Relaxed);
    if !wanted && level > NGX_LOG_ERR as usize {
        return false;
    }
    let text = escape(msg);
    note_init_error(level, &text);
    if !wanted {
        return false;
    }
    let text = text.into_boxed_str();
    if q.records.push(Record { level, text }).is_err() {
        q.dropped.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    true
}

/// Worker side: writes every queued message through nginx's logger.
///
/// # Safety
/// Worker thread only; `log` must be the cycle's live log.
pub unsafe fn drain(log: *mut ngx_log_t) {
    let q = queue();
    set_max_level((*log).log_level);
    while let Some(r) = q.records.pop() {
        ngx_log_error!(r.level, log, "[resty_ffi] {}", r.text);
    }
    let dropped = q.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        ngx_log_error!(
            NGX_LOG_WARN,
            log,
            "[resty_ffi] dropped {} runtime log message(s): more than {} were waiting",
            dropped,
            CAPACITY
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nginx_sys::NGX_LOG_CRIT;
    use std::sync::Mutex;

    /// The queue is process-wide: these tests must not run at the same time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn flood_is_bounded_and_counted() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        set_max_level(NGX_LOG_DEBUG as usize);
        let mut accepted = 0;
        for _ in 0..CAPACITY + 100 {
            if push(NGX_LOG_WARN as usize, b"x") {
                accepted += 1;
            }
        }
        assert!(accepted <= CAPACITY);
        assert!(queue().dropped.load(Ordering::Relaxed) >= 100);
        while queue().records.pop().is_some() {}
        queue().dropped.store(0, Ordering::Relaxed);
    }

    #[test]
    fn init_errors_are_captured_on_the_init_thread_only() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (rc, msg) = capture_init_error(|| {
            push(NGX_LOG_ERR as usize, b"first");
            push(NGX_LOG_WARN as usize, b"just a warning");
            push(NGX_LOG_CRIT as usize, b"cannot connect\n");
            7
        });
        assert_eq!((rc, msg.as_deref()), (7, Some("cannot connect")));
        let (_, none) = capture_init_error(|| std::thread::spawn(|| push(NGX_LOG_ERR as usize, b"x")).join());
        assert_eq!(none, None);
        while queue().records.pop().is_some() {}
    }

    #[test]
    fn control_bytes_cannot_forge_lines() {
        assert_eq!(escape(b"a\nFAKE [alert] x\n"), "a\\x0AFAKE [alert] x");
        assert_eq!(escape(b"nul\0byte\x7f\ttab"), "nul\\x00byte\\x7F\ttab");
        assert_eq!(escape(b"bad \xff utf8 \xc3\xa9"), "bad \\xFF utf8 \u{e9}");
        assert_eq!(escape(b"  \r\n"), "");
    }

    #[test]
    fn filtered_levels_are_not_queued() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        set_max_level(NGX_LOG_WARN as usize);
        assert!(!push(NGX_LOG_DEBUG as usize, b"debug"));
        set_max_level(NGX_LOG_DEBUG as usize);
    }
}
