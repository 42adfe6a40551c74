//! Why a load failed, carried back to `libffi_init`.

use std::ffi::c_int;

/// `libffi_init` logs `message` on the nginx worker thread (so the module adds it to
/// `load_ffi`'s error) and returns `rc`, which is never 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadFailure {
    rc: c_int,
    message: String,
}

impl LoadFailure {
    /// A failure with `rc` (0 becomes 1: a failed load must not read as success).
    pub fn new(rc: c_int, message: impl Into<String>) -> Self {
        LoadFailure {
            rc: if rc == 0 { 1 } else { rc },
            message: message.into(),
        }
    }

    /// What `libffi_init` returns: never 0.
    pub fn rc(&self) -> c_int {
        self.rc
    }

    /// The line `libffi_init` logs.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A failure with rc 1.
impl From<String> for LoadFailure {
    fn from(message: String) -> Self {
        LoadFailure::new(1, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_zero_is_never_a_failure_code() {
        assert_eq!(LoadFailure::new(0, "x").rc(), 1);
        assert_eq!(LoadFailure::new(5, "x").rc(), 5);
        assert_eq!(LoadFailure::from("why".to_string()), LoadFailure::new(1, "why"));
    }
}
