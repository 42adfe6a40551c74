//! Why a load failed, carried from the JVM thread back to libffi_init: the loaders' shared
//! `LoadFailure`, with this loader's prefix on its line.

use std::ffi::c_int;

use resty_ffi_loader_host::LoadFailure;

/// Ok: the runtime serves its task queue.
pub type LoadOutcome = Result<(), LoadFailure>;

/// A failure with `rc` (0 becomes 1) whose line reads `ffi_java: <message>`.
pub fn java_failure(rc: c_int, message: impl Into<String>) -> LoadFailure {
    LoadFailure::new(rc, format!("ffi_java: {}", message.into()))
}
