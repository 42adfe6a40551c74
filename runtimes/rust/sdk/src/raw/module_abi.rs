//! The module's task functions, looked up at run time.
//!
//! nginx loads the module RTLD_GLOBAL, so `dlsym(RTLD_DEFAULT, ...)` finds its exports from
//! any library loaded later. Looking them up, rather than linking them as undefined symbols,
//! lets a runtime library link (and its unit tests run) without nginx, and lets it run on a
//! module that lacks the optional batch poll.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::fmt;
use std::sync::OnceLock;

/// `void *ngx_http_lua_ffi_task_poll(void *tq)`
pub type TaskPollFn = unsafe extern "C" fn(tq: *mut c_void) -> *mut c_void;
/// `int ngx_http_resty_ffi_task_poll_batch(void *tq, void **tasks, int max)`
pub type TaskPollBatchFn =
    unsafe extern "C" fn(tq: *mut c_void, tasks: *mut *mut c_void, max: c_int) -> c_int;
/// `char *ngx_http_lua_ffi_get_req(void *task, int *len)`
pub type GetReqFn = unsafe extern "C" fn(task: *mut c_void, len: *mut c_int) -> *mut c_char;
/// `void ngx_http_lua_ffi_respond(void *task, int rc, char *rsp, int rsp_len)`
pub type RespondFn = unsafe extern "C" fn(task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int);
/// `void ngx_http_resty_ffi_respond_copy(void *task, int rc, const char *rsp, size_t len)`
pub type RespondCopyFn = unsafe extern "C" fn(task: *mut c_void, rc: c_int, rsp: *const c_char, len: usize);
/// `int ngx_http_resty_ffi_task_cancelled(void *task)`
pub type TaskCancelledFn = unsafe extern "C" fn(task: *mut c_void) -> c_int;
/// `int64_t ngx_http_resty_ffi_task_deadline(void *task)`
pub type TaskDeadlineFn = unsafe extern "C" fn(task: *mut c_void) -> i64;
/// `int ngx_http_resty_ffi_cancel_poll(void *tq, void **tasks, int max)`
pub type CancelPollFn = unsafe extern "C" fn(tq: *mut c_void, tasks: *mut *mut c_void, max: c_int) -> c_int;

/// `RESTY_FFI_RC_CANCELLED`: the call was cancelled (its caller gave up). The module answers
/// it for a task cancelled while still queued; loaders answer it for a handler that stopped
/// because of the cancellation (an answer to a cancelled task is freed, never delivered).
pub const RC_CANCELLED: c_int = resty_ffi_abi::rc::CANCELLED;

/// A required export of the module that this process does not have: the library runs
/// outside nginx, or in an nginx without the resty-ffi module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingSymbol(&'static str);

impl MissingSymbol {
    #[cfg(test)]
    pub(crate) fn new(name: &'static str) -> Self {
        MissingSymbol(name)
    }

    /// The symbol's name, e.g. `ngx_http_lua_ffi_task_poll`.
    pub fn name(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for MissingSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "symbol {} not found: the resty-ffi module is not loaded in this process",
            self.0
        )
    }
}

impl std::error::Error for MissingSymbol {}

/// The module's task functions. Get them with [`module_abi`].
#[derive(Debug)]
pub struct ModuleAbi {
    task_poll: TaskPollFn,
    /// Absent in modules older than the batch poll (and in the original lua-resty-ffi).
    task_poll_batch: Option<TaskPollBatchFn>,
    get_req: GetReqFn,
    respond: RespondFn,
    /// Absent in modules older than it: answers are then always handed over `malloc()`ed.
    respond_copy: Option<RespondCopyFn>,
    /// The cancellation functions, absent in modules older than them: then no task is
    /// ever cancelled and none has a deadline.
    task_cancelled: Option<TaskCancelledFn>,
    task_deadline: Option<TaskDeadlineFn>,
    cancel_poll: Option<CancelPollFn>,
}

/// The address of `name` in the process's global scope, if it is there.
pub(super) fn lookup(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: RTLD_DEFAULT searches every global object; the name is NUL-terminated.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!sym.is_null()).then_some(sym)
}

pub(crate) fn required(name: &'static CStr) -> Result<*mut c_void, MissingSymbol> {
    lookup(name).ok_or(MissingSymbol(
        // The names below are ASCII literals, so this never falls back.
        name.to_str().unwrap_or("a resty-ffi symbol"),
    ))
}

fn resolve() -> Result<ModuleAbi, MissingSymbol> {
    let poll = required(c"ngx_http_lua_ffi_task_poll")?;
    let get_req = required(c"ngx_http_lua_ffi_get_req")?;
    let respond = required(c"ngx_http_lua_ffi_respond")?;
    let poll_batch = lookup(c"ngx_http_resty_ffi_task_poll_batch");
    let respond_copy = lookup(c"ngx_http_resty_ffi_respond_copy");
    let cancelled = lookup(c"ngx_http_resty_ffi_task_cancelled");
    let deadline = lookup(c"ngx_http_resty_ffi_task_deadline");
    let cancel_poll = lookup(c"ngx_http_resty_ffi_cancel_poll");
    // SAFETY: the module exports these names with exactly these signatures (runtime ABI).
    unsafe {
        Ok(ModuleAbi {
            task_poll: std::mem::transmute::<*mut c_void, TaskPollFn>(poll),
            task_poll_batch: poll_batch.map(|p| std::mem::transmute::<*mut c_void, TaskPollBatchFn>(p)),
            get_req: std::mem::transmute::<*mut c_void, GetReqFn>(get_req),
            respond: std::mem::transmute::<*mut c_void, RespondFn>(respond),
            respond_copy: respond_copy.map(|p| std::mem::transmute::<*mut c_void, RespondCopyFn>(p)),
            task_cancelled: cancelled.map(|p| std::mem::transmute::<*mut c_void, TaskCancelledFn>(p)),
            task_deadline: deadline.map(|p| std::mem::transmute::<*mut c_void, TaskDeadlineFn>(p)),
            cancel_poll: cancel_poll.map(|p| std::mem::transmute::<*mut c_void, CancelPollFn>(p)),
        })
    }
}

/// The module's task functions, looked up once per process.
pub fn module_abi() -> Result<&'static ModuleAbi, MissingSymbol> {
    static ABI: OnceLock<Result<ModuleAbi, MissingSymbol>> = OnceLock::new();
    ABI.get_or_init(resolve).as_ref().map_err(|e| *e)
}

/// A `malloc()`ed copy of `bytes` followed by a NUL byte (so an empty copy reads as "", not
/// as NULL); None when out of memory. Handed to [`ModuleAbi::respond_malloced`].
fn malloc_copy(bytes: &[u8]) -> Option<*mut c_char> {
    let size = bytes.len().checked_add(1)?;
    // SAFETY: plain allocation, checked for NULL below.
    let p = unsafe { libc::malloc(size) }.cast::<u8>();
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` has room for len + 1 bytes and is a fresh block that `bytes` cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
    }
    Some(p.cast())
}

impl ModuleAbi {
    /// Blocks until a task is queued; None once the runtime is unloaded (after every task
    /// queued before the unload): then stop touching `tq`.
    ///
    /// # Safety
    /// `tq` is the queue handed to `libffi_init`, and no poll of it returned None yet.
    pub unsafe fn poll(&self, tq: *mut c_void) -> Option<*mut c_void> {
        // SAFETY: per this function's contract.
        let task = unsafe { (self.task_poll)(tq) };
        (!task.is_null()).then_some(task)
    }

    /// Blocks until at least one task is queued, then takes up to `out.len()` of them (under
    /// one lock) into `out`; returns how many. 0 once the runtime is unloaded: then stop
    /// touching `tq`. An empty `out` returns 0 without polling.
    ///
    /// # Safety
    /// As for [`poll`](Self::poll).
    pub unsafe fn poll_batch(&self, tq: *mut c_void, out: &mut [*mut c_void]) -> usize {
        if out.is_empty() {
            return 0;
        }
        let Some(poll_batch) = self.task_poll_batch else {
            // SAFETY: per this function's contract.
            return match unsafe { self.poll(tq) } {
                Some(task) => {
                    out[0] = task;
                    1
                }
                None => 0,
            };
        };
        let max = c_int::try_from(out.len()).unwrap_or(c_int::MAX);
        // SAFETY: per this function's contract; `out` has room for `max` pointers.
        let n = unsafe { poll_batch(tq, out.as_mut_ptr(), max) };
        usize::try_from(n).unwrap_or(0).min(out.len())
    }

    /// Whether the caller gave up on a task (its timeout passed, its request ended, the
    /// worker is exiting), or the handle is no longer current. Always false with a module
    /// older than cancellation. One atomic load in the module.
    ///
    /// # Safety
    /// `task` came from a poll (the module checks the handle; a stale one answers true).
    pub unsafe fn task_cancelled(&self, task: *mut c_void) -> bool {
        match self.task_cancelled {
            // SAFETY: per this function's contract.
            Some(f) => (unsafe { f(task) }) == 1,
            None => false,
        }
    }

    /// When the caller of a task stops waiting: CLOCK_MONOTONIC in nanoseconds; None when
    /// the call has no timeout (or the module cannot tell).
    ///
    /// # Safety
    /// As for [`task_cancelled`](Self::task_cancelled).
    pub unsafe fn task_deadline_ns(&self, task: *mut c_void) -> Option<i64> {
        // SAFETY: per this function's contract.
        let ns = unsafe { (self.task_deadline?)(task) };
        (ns > 0).then_some(ns)
    }

    /// Whether the module announces cancelled tasks ([`cancel_poll`](Self::cancel_poll)).
    pub fn announces_cancellations(&self) -> bool {
        self.cancel_poll.is_some()
    }

    /// Blocks until tasks the runtime holds (taken, not answered) are cancelled, then stores
    /// up to `out.len()` of them in `out` and returns how many. 0 once the runtime is
    /// unloaded (then stop), on nginx's thread, or with a module that does not announce
    /// cancellations. Announcements are kept only from the first call on: make it from a
    /// thread of your own started in `libffi_init`.
    ///
    /// # Safety
    /// `tq` is the queue handed to `libffi_init`, and no cancel poll of it returned 0 yet.
    pub unsafe fn cancel_poll(&self, tq: *mut c_void, out: &mut [*mut c_void]) -> usize {
        let Some(cancel_poll) = self.cancel_poll else {
            return 0;
        };
        if out.is_empty() {
            return 0;
        }
        let max = c_int::try_from(out.len()).unwrap_or(c_int::MAX);
        // SAFETY: per this function's contract; `out` has room for `max` pointers.
        let n = unsafe { cancel_poll(tq, out.as_mut_ptr(), max) };
        usize::try_from(n).unwrap_or(0).min(out.len())
    }

    /// The request bytes of a task; None for a handle the module refuses (stale or answered).
    ///
    /// # Safety
    /// `task` came from a poll. The bytes are the module's and stay valid only until the task
    /// is answered: copy them before anything can answer it.
    pub unsafe fn request<'t>(&self, task: *mut c_void) -> Option<&'t [u8]> {
        let mut len: c_int = 0;
        // SAFETY: the module checks the handle and returns NULL for one it refuses.
        let p = unsafe { (self.get_req)(task, &mut len) };
        if p.is_null() {
            return None;
        }
        let len = usize::try_from(len).unwrap_or(0);
        if len == 0 {
            return Some(&[]);
        }
        // SAFETY: the module's request copy of `len` bytes, alive until the answer (see above).
        Some(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
    }

    /// Answers a task with a buffer the module takes over and frees: `rsp` NULL (no body) or
    /// `malloc()`ed with `rsp_len` bytes (`rsp_len` 0: a NUL-terminated string).
    ///
    /// # Safety
    /// `task` came from a poll and is answered here for the only time; `rsp` is as above and
    /// not used by the caller afterwards.
    pub unsafe fn respond_malloced(&self, task: *mut c_void, rc: c_int, rsp: *mut c_char, rsp_len: c_int) {
        // SAFETY: per this function's contract.
        unsafe { (self.respond)(task, rc, rsp, rsp_len) };
    }

    /// Whether [`ModuleAbi::respond_copied`] copies in the module (else it copies into
    /// `malloc()`ed memory the module takes over: a module older than `respond_copy`).
    pub fn copies_answers(&self) -> bool {
        self.respond_copy.is_some()
    }

    /// Answers a task with a copy of `body` (None: no body, nil in Lua; an empty body is ""),
    /// made by the module into the task's own reused buffer: no allocation here, and none for
    /// the worker to free. With a module older than that, as [`ModuleAbi::respond`].
    ///
    /// # Safety
    /// `task` came from a poll and is answered here for the only time.
    pub unsafe fn respond_copied(&self, task: *mut c_void, rc: c_int, body: Option<&[u8]>, no_memory_rc: c_int) {
        match self.respond_copy {
            Some(copy) => {
                let (p, len) = body.map_or((std::ptr::null(), 0), |b| (b.as_ptr().cast::<c_char>(), b.len()));
                // SAFETY: per this function's contract; `len` bytes at `p` (or NULL).
                unsafe { copy(task, rc, p, len) }
            }
            // SAFETY: per this function's contract.
            None => unsafe { self.respond(task, rc, body, no_memory_rc) },
        }
    }

    /// Answers a task with a `malloc()`ed copy of `body` (None: no body, nil in Lua; an empty
    /// body is ""). A body over 2 GiB is cut there. Out of memory, the task is answered with
    /// no body and `no_memory_rc` in place of a 0 `rc`.
    ///
    /// # Safety
    /// `task` came from a poll and is answered here for the only time.
    pub unsafe fn respond(&self, task: *mut c_void, rc: c_int, body: Option<&[u8]>, no_memory_rc: c_int) {
        let Some(body) = body else {
            // SAFETY: per this function's contract; a NULL body is allowed by the ABI.
            return unsafe { self.respond_malloced(task, rc, std::ptr::null_mut(), 0) };
        };
        let len = c_int::try_from(body.len()).unwrap_or(c_int::MAX);
        let body = &body[..len as usize];
        match malloc_copy(body) {
            // SAFETY: per this function's contract; the module frees our copy.
            Some(rsp) => unsafe { self.respond_malloced(task, rc, rsp, len) },
            None => {
                let rc = if rc == 0 { no_memory_rc } else { rc };
                // SAFETY: per this function's contract, without a body.
                unsafe { self.respond_malloced(task, rc, std::ptr::null_mut(), 0) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_names_the_first_missing_symbol() {
        // A unit test process has no resty-ffi module in it.
        let e = module_abi().expect_err("no module in a test process");
        assert_eq!(e.name(), "ngx_http_lua_ffi_task_poll");
        assert!(e.to_string().contains("ngx_http_lua_ffi_task_poll"), "{e}");
    }

    #[test]
    fn malloc_copy_adds_a_nul() {
        for bytes in [&b""[..], b"abc"] {
            let p = malloc_copy(bytes).expect("memory");
            // SAFETY: our own copy of len + 1 bytes, freed once right after.
            unsafe {
                assert_eq!(CStr::from_ptr(p).to_bytes(), bytes);
                libc::free(p.cast());
            }
        }
    }
}
