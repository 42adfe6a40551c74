//! Why a load failed, carried from the JVM thread back to libffi_init.

use std::ffi::c_int;

/// libffi_init logs `message` on the nginx worker thread (so the module adds it to load_ffi's
/// error) and returns `rc`.
#[derive(Debug)]
pub struct LoadFailure {
    pub rc: c_int,
    pub message: String,
}

impl LoadFailure {
    pub fn new(rc: c_int, message: impl Into<String>) -> Self {
        LoadFailure {
            rc: if rc == 0 { 1 } else { rc },
            message: format!("ffi_java: {}", message.into()),
        }
    }
}

/// Ok: the runtime serves its task queue.
pub type LoadOutcome = Result<(), LoadFailure>;
