//! An answer written straight into the memory the module frees: no copy on the way out.
//!
//! The module takes a `malloc()`ed buffer and frees it with `free()` (the runtime ABI). A
//! `Vec<u8>` reply is Rust's memory (whatever global allocator the runtime chose), so the SDK
//! copies it into `malloc()`ed memory once more; for a large answer that copy costs as much as
//! building it. A [`Body`] is `malloc()`ed from the start and handed over as it is
//! ([`serve_into`](crate::serve_into), [`crate::Task::respond_body`]).

use std::ffi::c_char;
use std::io;
use std::ptr::NonNull;

/// A growable byte buffer in `malloc()`ed memory, always with room for a NUL after its bytes
/// (the ABI reads a zero length with a non-NULL pointer as a C string).
pub struct Body {
    ptr: Option<NonNull<u8>>,
    len: usize,
    /// Bytes allocated; `len < cap` whenever `ptr` is set (room for the NUL).
    cap: usize,
}

// SAFETY: a Body owns its allocation outright; nothing else points into it.
unsafe impl Send for Body {}

/// `malloc()` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoMemory;

impl std::fmt::Display for NoMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("out of memory")
    }
}

impl std::error::Error for NoMemory {}

impl Default for Body {
    fn default() -> Self {
        Self::new()
    }
}

impl Body {
    /// An empty body; nothing is allocated until bytes come.
    pub const fn new() -> Self {
        Body { ptr: None, len: 0, cap: 0 }
    }

    /// An empty body with room for `n` bytes (and the NUL).
    pub fn with_capacity(n: usize) -> Result<Self, NoMemory> {
        let mut b = Body::new();
        b.reserve(n)?;
        Ok(b)
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        match self.ptr {
            // SAFETY: `len` bytes from `ptr` are initialized and ours.
            Some(p) => unsafe { std::slice::from_raw_parts(p.as_ptr(), self.len) },
            None => &[],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the bytes, keeps the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Makes room for `more` bytes after the current ones (and the NUL).
    pub fn reserve(&mut self, more: usize) -> Result<(), NoMemory> {
        let need = self.len.checked_add(more).and_then(|n| n.checked_add(1)).ok_or(NoMemory)?;
        if need <= self.cap {
            return Ok(());
        }
        let cap = need.max(self.cap.saturating_mul(2)).max(64);
        let old = self.ptr.map_or(std::ptr::null_mut(), |p| p.as_ptr().cast());
        // SAFETY: `old` is NULL or our own malloc()ed block; realloc keeps its bytes.
        let p = unsafe { libc::realloc(old, cap) }.cast::<u8>();
        let p = NonNull::new(p).ok_or(NoMemory)?;
        self.ptr = Some(p);
        self.cap = cap;
        Ok(())
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), NoMemory> {
        self.reserve(bytes.len())?;
        if let Some(p) = self.ptr {
            // SAFETY: `reserve` made room for len + bytes.len() (+1); `bytes` is not ours, so
            // the two cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.as_ptr().add(self.len), bytes.len()) };
            self.len += bytes.len();
        }
        Ok(())
    }

    /// Hands the memory over: the NUL-terminated bytes and their length (NULL for a body
    /// that never allocated: the caller answers "" for it). The caller must free the pointer
    /// (the module does, once it is answered).
    pub(crate) fn into_raw(self) -> (*mut c_char, usize) {
        let me = std::mem::ManuallyDrop::new(self);
        match me.ptr {
            Some(p) => {
                // SAFETY: `len < cap`: the NUL fits.
                unsafe { *p.as_ptr().add(me.len) = 0 };
                (p.as_ptr().cast(), me.len)
            }
            None => (std::ptr::null_mut(), 0),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(p) = self.ptr.take() {
            // SAFETY: our own malloc()ed block, freed once.
            unsafe { libc::free(p.as_ptr().cast()) };
        }
    }
}

impl io::Write for Body {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(buf)
            .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn grows_keeps_its_bytes_and_ends_with_a_nul() {
        let mut b = Body::new();
        assert!(b.is_empty());
        for i in 0..1000u32 {
            b.extend_from_slice(&i.to_le_bytes()).unwrap();
        }
        write!(b, "end").unwrap();
        assert_eq!(b.len(), 4003);
        assert_eq!(&b.as_slice()[4..8], &1u32.to_le_bytes());
        let (p, len) = b.into_raw();
        assert_eq!(len, 4003);
        // SAFETY: the raw parts of the body above, NUL-terminated, freed once here.
        unsafe {
            assert_eq!(*p.add(len), 0);
            assert_eq!(std::slice::from_raw_parts(p.cast::<u8>().add(4000), 3), b"end");
            libc::free(p.cast());
        }
    }

    #[test]
    fn an_empty_body_hands_over_nothing_and_a_cleared_one_an_empty_string() {
        assert_eq!(Body::new().into_raw(), (std::ptr::null_mut(), 0));
        let mut b = Body::with_capacity(10).unwrap();
        b.extend_from_slice(b"xyz").unwrap();
        b.clear();
        let (p, len) = b.into_raw();
        assert_eq!(len, 0);
        // SAFETY: as above.
        unsafe {
            assert_eq!(*p, 0, "a C string: the module reads len 0 as strlen");
            libc::free(p.cast());
        }
    }

    #[test]
    fn absurd_sizes_are_refused() {
        let mut b = Body::new();
        assert_eq!(b.reserve(usize::MAX), Err(NoMemory));
        assert!(b.is_empty());
    }
}
