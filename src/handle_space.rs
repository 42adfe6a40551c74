//! The address range task handles are drawn from.
//!
//! Runtimes receive a task as a `void *`. Garbage-collected runtimes treat such a value as a
//! pointer: Go aborts when a goroutine stack holding a value below 4096 is copied ("invalid
//! pointer found on stack"), and any runtime may object to a value inside its own heap. So a
//! handle is an address inside a range this module reserved for itself (`mmap` PROT_NONE:
//! address space only, no memory), which no allocator of any runtime can ever map, and which
//! is far above the zero page. The range is never accessed and never unmapped.
//!
//! A handle encodes a slot index (low `INDEX_BITS`) and the slot's generation (the bits
//! above) as an offset into the range, so the bigger the range, the more generations a slot
//! goes through before a handle value repeats.

use std::sync::OnceLock;

/// Bits of a handle's offset that hold the slot index: 1 Mi slots.
pub const INDEX_BITS: u32 = 20;
/// The largest range asked for (1 TiB of address space) and the smallest accepted (4 GiB).
const MAX_BITS: u32 = 40;
const MIN_BITS: u32 = 32;

pub struct HandleSpace {
    base: usize,
    /// log2 of the range's size.
    bits: u32,
}

static SPACE: OnceLock<Result<HandleSpace, String>> = OnceLock::new();

/// The process's handle range, reserved on first use.
pub fn get() -> Result<&'static HandleSpace, &'static str> {
    SPACE
        .get_or_init(HandleSpace::reserve)
        .as_ref()
        .map_err(String::as_str)
}

impl HandleSpace {
    /// Reserves the largest range the kernel grants (RLIMIT_AS or valgrind may refuse 1 TiB).
    fn reserve() -> Result<HandleSpace, String> {
        let mut last_err = String::new();
        for bits in (MIN_BITS..=MAX_BITS).rev() {
            let len = 1usize << bits;
            // SAFETY: a fresh anonymous mapping that nothing else refers to; PROT_NONE with
            // MAP_NORESERVE commits no memory.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                return Ok(HandleSpace {
                    base: p as usize,
                    bits,
                });
            }
            last_err = std::io::Error::last_os_error().to_string();
        }
        Err(format!(
            "cannot reserve address space for task handles: {last_err}"
        ))
    }

    /// The largest generation a handle can carry (generations count modulo this + 1).
    pub fn generation_mask(&self) -> u32 {
        ((1u64 << (self.bits - INDEX_BITS)) - 1) as u32
    }

    /// The handle of slot `index` at `generation` (already masked).
    pub fn encode(&self, index: u32, generation: u32) -> usize {
        self.base + ((generation as usize) << INDEX_BITS | index as usize)
    }

    /// (index, generation) of a handle; None for a value outside the range.
    pub fn decode(&self, handle: usize) -> Option<(u32, u32)> {
        let off = handle.checked_sub(self.base)?;
        if off >> self.bits != 0 {
            return None;
        }
        let index = (off & ((1 << INDEX_BITS) - 1)) as u32;
        Some((index, (off >> INDEX_BITS) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_inside_the_reserved_range_and_far_from_zero() {
        let s = get().unwrap();
        assert!(s.base >= 64 * 1024);
        let mask = s.generation_mask();
        assert!(mask >= (1 << (MIN_BITS - INDEX_BITS)) - 1);
        for (i, g) in [(0, 0), (1, 0), ((1 << INDEX_BITS) - 1, mask), (7, mask / 2)] {
            let h = s.encode(i, g);
            assert!(h >= s.base && h < s.base + (1usize << s.bits));
            assert_eq!(s.decode(h), Some((i, g)));
        }
        assert_eq!(s.decode(0), None);
        assert_eq!(s.decode(1), None);
        assert_eq!(s.decode(s.base - 1), None);
        assert_eq!(s.decode(s.base + (1usize << s.bits)), None);
        assert_eq!(s.decode(usize::MAX), None);
    }
}
