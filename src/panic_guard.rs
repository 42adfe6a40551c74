//! No panic may unwind into nginx, LuaJIT or a runtime: every `extern "C"` body runs here.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; if it panics, returns `fallback` instead of unwinding across the FFI edge.
pub fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
