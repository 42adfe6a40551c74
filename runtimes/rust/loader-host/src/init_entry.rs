//! The body of a loader's `libffi_init`: the same for every loader.

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::load_failure::LoadFailure;
use crate::log_text::log_error;

/// Runs `start` with the cfg's bytes (None for a NULL cfg) and returns `libffi_init`'s rc: 0
/// when the runtime started, else the failure's rc with its message logged at error level on
/// this thread (nginx's worker thread, inside `libffi_init`: the module appends the line to
/// `load_ffi`'s error). A panic in `start` is caught, logged as `panic_message`, and gives 1.
///
/// # Safety
/// `cfg` is NULL or a NUL-terminated string valid until this returns (what the module hands
/// `libffi_init`).
pub unsafe fn run_libffi_init(
    cfg: *const c_char,
    panic_message: &str,
    start: impl FnOnce(Option<&[u8]>) -> Result<(), LoadFailure>,
) -> c_int {
    // SAFETY: per this function's contract; the bytes are used before it returns.
    let cfg = (!cfg.is_null()).then(|| unsafe { CStr::from_ptr(cfg) }.to_bytes());
    match catch_unwind(AssertUnwindSafe(|| start(cfg))) {
        Ok(Ok(())) => 0,
        Ok(Err(failure)) => {
            log_error(failure.message());
            failure.rc()
        }
        Err(_) => {
            log_error(panic_message);
            1
        }
    }
}

/// A cfg that must be there and be text: the text, or why not (`cfg is required: <form>`,
/// `cfg is not valid UTF-8`).
pub fn required_cfg<'c>(cfg: Option<&'c [u8]>, form: &str) -> Result<&'c str, String> {
    let cfg = cfg.ok_or_else(|| format!("cfg is required: {form}"))?;
    std::str::from_utf8(cfg).map_err(|_| "cfg is not valid UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rc_is_the_start_s_answer() {
        let cfg = c"a,b";
        // SAFETY: a NUL-terminated literal, and NULL.
        unsafe {
            assert_eq!(
                run_libffi_init(cfg.as_ptr(), "p", |c| {
                    assert_eq!(c, Some(&b"a,b"[..]));
                    Ok(())
                }),
                0
            );
            assert_eq!(
                run_libffi_init(std::ptr::null(), "p", |c| {
                    assert_eq!(c, None);
                    Err(LoadFailure::new(7, "test: told to fail"))
                }),
                7
            );
            assert_eq!(
                run_libffi_init(std::ptr::null(), "test: panicked", |_| panic!("boom")),
                1
            );
        }
    }

    #[test]
    fn a_required_cfg_is_there_and_text() {
        assert_eq!(required_cfg(Some(b"x,y"), "<a>,<b>"), Ok("x,y"));
        assert_eq!(
            required_cfg(None, "<a>,<b>"),
            Err("cfg is required: <a>,<b>".to_string())
        );
        assert_eq!(
            required_cfg(Some(b"\xff"), "<a>"),
            Err("cfg is not valid UTF-8".to_string())
        );
    }
}
