//! glibc's heap trimming, set for payloads that cross threads.
//!
//! glibc gives the free top of a heap back to the kernel once it exceeds the trim threshold
//! (128 KiB at start), and serves blocks above the mmap threshold (128 KiB) with their own
//! mmap. Both thresholds rise by themselves the first time the process frees a large mmapped
//! block (to that block's size, and twice it), which most long-running processes do early.
//! Until then a call with a 100 KiB payload pays dozens of page faults: the runtime's answer
//! block and its own buffers are freed, the arena's top passes 128 KiB and is trimmed, and
//! the next call faults the same pages back in (the Rust SDK's echo took 33 µs a call pinned
//! instead of 14, and 150 µs instead of 50 unpinned).
//!
//! So the worker frees one large block at init: glibc moves the thresholds the way it would
//! on its own later (mmap 1 MiB, trim 2 MiB; process-wide, every arena). Nothing is changed
//! when the user set them (`MALLOC_TRIM_THRESHOLD_`, `GLIBC_TUNABLES`, `mallopt`): glibc then
//! keeps its thresholds fixed. Other C libraries: nothing happens.

/// The block freed at init: the mmap threshold becomes about this size, the trim threshold
/// twice it.
const WARM_BLOCK: usize = 1 << 20;

/// Worker init: lets glibc raise its heap thresholds now rather than after the first large
/// free of the process.
pub fn settle_heap_thresholds() {
    if !cfg!(target_env = "gnu") {
        return;
    }
    // SAFETY: a plain allocation, touched and freed at once; black_box keeps the compiler
    // from eliding the pair (it knows malloc and free).
    unsafe {
        let p = std::hint::black_box(libc::malloc(WARM_BLOCK));
        if !p.is_null() {
            p.cast::<u8>().write_volatile(0);
            libc::free(std::hint::black_box(p));
        }
    }
}
