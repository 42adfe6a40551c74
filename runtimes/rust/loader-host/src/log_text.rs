//! Log lines of the loaders and of the code they host (a Python traceback, a Java stack
//! trace), shortened to what nginx keeps of a line, then written by
//! `resty_ffi_sdk::raw::log_bytes`: into nginx's error.log (the line reads
//! `[resty_ffi] <msg>`), or to stderr in the same shape outside nginx. Any thread, never
//! blocks.

use std::ffi::c_int;

use resty_ffi_sdk::raw::{self, level};

/// nginx cuts a line at about 1800 bytes, keeping its start; a traceback says what went
/// wrong at its end. So a longer text keeps its first 200 and last ~1500 bytes.
const MAX_TEXT: usize = 1700;
const HEAD: usize = 200;

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// `msg`, or its head and tail joined by ` ... ` (cut at UTF-8 character starts).
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
    out.extend_from_slice(b" ... ");
    out.extend_from_slice(&msg[tail..]);
    out.into()
}

/// Logs `msg` (shortened) at an nginx level (clamped to 1 emerg .. 8 debug).
pub fn log_text(level: c_int, msg: &[u8]) {
    raw::log_bytes(level, &shorten(msg));
}

/// Logs `msg` (shortened) at error level.
pub fn log_error(msg: &str) {
    log_text(level::ERR, msg.as_bytes());
}

/// Logs `msg` (shortened) at info level.
pub fn log_info(msg: &str) {
    log_text(level::INFO, msg.as_bytes());
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
        assert!(text.contains(" ... ") && text.ends_with(" the end"), "{text}");
    }
}
