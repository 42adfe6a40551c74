//! Loading a runtime library and starting it with `libffi_init(cfg, tq)`.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Arc, Mutex};

use crate::load_diagnosis;
use crate::queue::RequestQueue;
use crate::runtime_log;
use crate::signal_mask;
use crate::unpin;
use crate::worker::{self, PendingClose};

/// `int libffi_init(char *cfg, void *tq)`, provided by every runtime library.
type LibffiInit = unsafe extern "C" fn(*mut c_char, *mut c_void) -> c_int;

/// Load flags, as passed from Lua.
pub const FLAG_GLOBAL: c_int = 1;
pub const FLAG_UNPIN: c_int = 2;

/// A loaded, initialized runtime.
pub struct Runtime {
    queue: Arc<RequestQueue>,
    handle: *mut c_void,
    unpin: bool,
    /// The runtime's own reference to the queue (`Arc::into_raw`), handed to `libffi_init`.
    tq: *mut c_void,
    /// The file name given to dlopen.
    file: String,
}

/// Queues of unloaded runtimes. A runtime's threads may poll its `tq` at any time, even
/// long after the unload (they get NULL), so the queue can never be freed: it is kept here,
/// emptied, for the life of the process (about 100 bytes per load/unload cycle).
struct Retired(Vec<usize>);

static RETIRED: Mutex<Retired> = Mutex::new(Retired(Vec::new()));

fn retire(tq: *mut c_void) {
    RETIRED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .0
        .push(tq as usize);
}

/// The file name to hand to dlopen for what the user wrote: a path or file name is used
/// as it is, a short name `demo` means `libdemo.so` (dlopen searches LD_LIBRARY_PATH).
pub fn library_file_name(lib: &str) -> String {
    if lib.contains('/') || lib.ends_with(".so") || lib.contains(".so.") {
        lib.to_string()
    } else {
        format!("lib{lib}.so")
    }
}

fn dlerror_message() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dlopen error".to_string()
    } else {
        // SAFETY: see above.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

impl Runtime {
    /// dlopens `lib` and runs its `libffi_init` with a private copy of `cfg`.
    pub fn load(lib: &str, cfg: Option<&CStr>, max_queue: usize, flags: c_int) -> Result<Runtime, String> {
        let file = library_file_name(lib);
        let cfile = CString::new(file.clone()).map_err(|_| "library name contains a NUL byte".to_string())?;
        let unpin = flags & FLAG_UNPIN != 0;
        let mut mode = libc::RTLD_NOW;
        mode |= if flags & FLAG_GLOBAL != 0 {
            libc::RTLD_GLOBAL
        } else {
            libc::RTLD_LOCAL
        };
        if !unpin {
            // Go and most runtimes cannot survive dlclose: keep the code mapped for good.
            mode |= libc::RTLD_NODELETE;
        }
        // SAFETY: cfile is NUL-terminated; loading runs the library's constructors, which is
        // what loading a runtime means.
        let handle = unsafe { libc::dlopen(cfile.as_ptr(), mode) };
        if handle.is_null() {
            return Err(format!(
                "failed to load runtime library {file}: {}{}",
                dlerror_message(),
                load_diagnosis::explain(&file)
            ));
        }
        // SAFETY: handle is a live dlopen handle; the name is NUL-terminated.
        let sym = unsafe { libc::dlsym(handle, c"libffi_init".as_ptr()) };
        if sym.is_null() {
            // SAFETY: our own handle, closed once.
            unsafe { libc::dlclose(handle) };
            return Err(format!("runtime library {file} has no libffi_init symbol"));
        }
        // SAFETY: libffi_init has this signature by the runtime ABI.
        let init = unsafe { std::mem::transmute::<*mut c_void, LibffiInit>(sym) };

        let queue = Arc::new(RequestQueue::new(max_queue, unpin));
        // The runtime keeps `tq` for as long as it likes (its threads may poll after we
        // unload it), so it owns one reference; once unloaded, that reference is kept in
        // the retired list for the life of the process (see `retire`).
        let tq = Arc::into_raw(queue.clone()) as *mut c_void;
        // cfg is copied: the runtime gets a private, writable string freed after init.
        let mut cfg_copy: Option<Vec<u8>> = cfg.map(|c| c.to_bytes_with_nul().to_vec());
        let cfg_ptr = cfg_copy
            .as_mut()
            .map_or(std::ptr::null_mut(), |v| v.as_mut_ptr().cast::<c_char>());
        let threads_before = if unpin {
            unpin::process_threads()
        } else {
            Vec::new()
        };
        // SAFETY: calling the runtime's entry point with a valid cfg (or NULL) and our queue.
        // Threads the runtime starts must not take nginx's signals.
        let (rc, logged) = signal_mask::with_nginx_signals_blocked(|| {
            runtime_log::capture_init_error(|| unsafe { init(cfg_ptr, tq) })
        });
        drop(cfg_copy);
        if let Some(users) = queue.thread_users() {
            // Threads libffi_init started may run the library's code until they exit.
            users.add_new_threads(&threads_before, &unpin::process_threads());
        }
        if rc != 0 {
            // Threads it may have started get NULL from task_poll.
            queue.unload();
            retire(tq);
            if unpin {
                worker::close_when_unused(PendingClose {
                    queue: queue.clone(),
                    handle: handle as usize,
                    file: file.clone(),
                    since: std::time::Instant::now(),
                });
            }
            return Err(match logged {
                Some(why) => format!("libffi_init of {file} failed: rc={rc}: {why}"),
                None => format!("libffi_init of {file} failed: rc={rc}"),
            });
        }
        Ok(Runtime {
            queue,
            handle,
            unpin,
            tq,
            file,
        })
    }

    pub fn queue(&self) -> &Arc<RequestQueue> {
        &self.queue
    }

    /// Tasks already queued are still delivered; then the runtime's pollers get NULL.
    pub fn unload(self) {
        self.queue.unload();
        retire(self.tq);
        if self.unpin {
            // Closed once no thread of the runtime can run its code any more.
            worker::close_when_unused(PendingClose {
                queue: self.queue.clone(),
                handle: self.handle as usize,
                file: self.file,
                since: std::time::Instant::now(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_become_lib_so() {
        assert_eq!(library_file_name("demo"), "libdemo.so");
        assert_eq!(library_file_name("libdemo.so"), "libdemo.so");
        assert_eq!(library_file_name("libdemo.so.1"), "libdemo.so.1");
        assert_eq!(library_file_name("/opt/x/libdemo.so"), "/opt/x/libdemo.so");
        assert_eq!(library_file_name("./x"), "./x");
    }

    #[test]
    fn missing_library_is_a_clear_error() {
        let e = Runtime::load("/nonexistent/libnope.so", None, 4, 0)
            .err()
            .unwrap();
        assert!(
            e.contains("failed to load runtime library /nonexistent/libnope.so"),
            "{e}"
        );
    }

    #[test]
    fn library_without_libffi_init_is_refused() {
        let e = Runtime::load("libc.so.6", None, 4, 0).err().unwrap();
        assert!(e.contains("has no libffi_init"), "{e}");
    }
}
