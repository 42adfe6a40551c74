//! Log lines of the loader and of Python code: into nginx's error.log through the module's
//! `ngx_http_resty_ffi_log` when it exists (the line reads `[resty_ffi] <msg>`), otherwise
//! to stderr in the same shape. Any thread, never blocks.

use std::ffi::c_int;
use std::io::Write;

use crate::module_abi;

/// nginx log levels.
pub const EMERG: c_int = 1;
pub const ALERT: c_int = 2;
pub const CRIT: c_int = 3;
pub const ERR: c_int = 4;
pub const WARN: c_int = 5;
pub const NOTICE: c_int = 6;
pub const INFO: c_int = 7;
pub const DEBUG: c_int = 8;

/// Whether lines reach nginx's error.log (otherwise they go to stderr).
pub fn to_nginx() -> bool {
    module_abi::log_fn().is_some()
}

/// nginx cuts a line at about 1800 bytes, keeping its start; a traceback says what went
/// wrong at its end. So a longer text keeps its first 200 and last ~1500 bytes.
const MAX_TEXT: usize = 1700;
const HEAD: usize = 200;

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// `msg`, or its head and tail joined by a `...` line (cut at UTF-8 character starts).
fn shorten(msg: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if msg.len() <= MAX_TEXT {
        return msg.into();
    }
    let mut head = HEAD;
    while head > 0 && is_continuation(msg[head]) {
        head -= 1;
    }
    let mut tail = msg.len() - (MAX_TEXT - HEAD - 10);
    while tail < msg.len() && is_continuation(msg[tail]) {
        tail += 1;
    }
    let mut out = Vec::with_capacity(MAX_TEXT);
    out.extend_from_slice(&msg[..head]);
    out.extend_from_slice(b"\n...\n");
    out.extend_from_slice(&msg[tail..]);
    out.into()
}

pub fn write(level: c_int, msg: &[u8]) {
    let level = level.clamp(EMERG, DEBUG);
    let msg = &*shorten(msg);
    match module_abi::log_fn() {
        Some(log) => {
            let len = c_int::try_from(msg.len()).unwrap_or(c_int::MAX);
            if len == 0 {
                return;
            }
            // SAFETY: `len` readable bytes; the module copies them and never blocks.
            unsafe { log(level, msg.as_ptr().cast(), len) };
        }
        None => {
            let mut line = Vec::with_capacity(msg.len() + 13);
            line.extend_from_slice(b"[resty_ffi] ");
            line.extend_from_slice(msg);
            line.push(b'\n');
            // Nothing sensible to do if stderr is gone.
            let _ = std::io::stderr().write_all(&line);
        }
    }
}

pub fn error(msg: &str) {
    write(ERR, msg.as_bytes());
}

pub fn info(msg: &str) {
    write(INFO, msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_keep_head_and_tail() {
        let short = b"short line";
        assert_eq!(&*shorten(short), short);
        let mut long = "\u{e9}".repeat(1000).into_bytes();
        long.extend_from_slice(b" the end");
        let cut = shorten(&long);
        assert!(cut.len() <= MAX_TEXT, "{}", cut.len());
        let text = std::str::from_utf8(&cut).expect("still UTF-8");
        assert!(text.contains("\n...\n") && text.ends_with(" the end"), "{text}");
    }
}
