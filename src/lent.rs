//! Lent requests (zero-copy): a large request is not copied into its task; the runtime reads
//! the caller's Lua string in place.
//!
//! LuaJIT strings are immutable, never move and end with a NUL byte, so the string's bytes
//! are all `get_req` promises, for as long as the string lives. Lua keeps it alive: it anchors
//! the string in a table of its VM under the task's handle and lets go either itself, when it
//! read the answer and freed the task (`let_go`), or when the module tells it the task was
//! freed without it (a timeout, a request that ended, a killed light thread: `on_free` queues
//! the handle, Lua takes the queue with `take_released` at its next call). A runtime may
//! therefore read the bytes until it answers, however long after its caller stopped waiting.
//!
//! Two things end a VM's strings regardless of anchors, and both are handled here:
//! - with `lua_code_cache off` a request (and its timers) runs in a VM of its own, closed
//!   (`lua_close`) when it ends: such requests do not lend (`may_lend`), their calls copy;
//! - the worker's main VM is closed after the modules' exit hooks, when the process exits:
//!   if a lent task is still out then, the VM is left open for the few instructions until
//!   `exit()` (`keep_main_vm_at_exit`), so a runtime thread never reads freed memory.
//!
//! Where lua-nginx-module's symbols cannot be found (a static build that exports none),
//! nothing is lent.

use std::cell::{Cell, RefCell};
use std::ffi::{c_void, CStr};
use std::sync::OnceLock;

use nginx_sys::{ngx_http_request_t, ngx_module_t, ngx_pool_cleanup_t};

use crate::task::TaskPtr;

/// What lending needs from nginx and lua-nginx-module, looked up once.
struct LuaVm {
    /// `ngx_http_lua_module.ctx_index`: where a request's lua context is in `r->ctx`.
    lua_ctx_index: usize,
    /// `ngx_http_module.index`: the http block's configuration in `cycle->conf_ctx`.
    http_index: usize,
    /// `ngx_http_lua_cleanup_vm`: the pool cleanup that closes a VM.
    cleanup_vm: usize,
}

static LUA_VM: OnceLock<Option<LuaVm>> = OnceLock::new();

fn symbol(name: &CStr) -> *mut c_void {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

fn lua_vm() -> Option<&'static LuaVm> {
    LUA_VM
        .get_or_init(|| {
            let lua = symbol(c"ngx_http_lua_module").cast::<ngx_module_t>();
            let http = symbol(c"ngx_http_module").cast::<ngx_module_t>();
            let cleanup_vm = symbol(c"ngx_http_lua_cleanup_vm") as usize;
            if lua.is_null() || http.is_null() || cleanup_vm == 0 {
                return None;
            }
            // SAFETY: both are nginx modules (ngx_module_t), configured before any request.
            unsafe {
                Some(LuaVm {
                    lua_ctx_index: (*lua).ctx_index,
                    http_index: (*http).index,
                    cleanup_vm,
                })
            }
        })
        .as_ref()
}

/// Whether a call of `r` may lend its request: its Lua code runs in the worker's main VM,
/// which lives until the process exits (not in a `lua_code_cache off` request's own VM).
///
/// # Safety
/// `r` is the live request of the calling coroutine.
pub unsafe fn may_lend(r: *mut ngx_http_request_t) -> bool {
    let Some(vm) = lua_vm() else { return false };
    // SAFETY: r->ctx has a slot per http module; lua-nginx-module's context starts with
    // `vm_state`, set only for a request that runs in a VM of its own (lua_code_cache off,
    // and that request's timers and subrequests).
    unsafe {
        let ctx = *(*r).ctx.add(vm.lua_ctx_index);
        !ctx.is_null() && (*ctx.cast::<*const c_void>()).is_null()
    }
}

thread_local! {
    /// Handles of lent tasks freed while Lua still anchors their strings.
    static RELEASED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    /// Lent tasks not freed yet.
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// Worker side: `task` was posted with a lent request, and Lua anchors its string.
pub fn lent(task: TaskPtr) {
    // SAFETY: worker thread; the waiter side is the worker's.
    unsafe { task.side() }.anchored = true;
    LIVE.with(|n| n.set(n.get() + 1));
}

/// Lua read the answer and lets go of the string itself (it frees the task next).
pub fn let_go(task: TaskPtr) {
    // SAFETY: worker thread; the waiter side is the worker's.
    unsafe { task.side() }.anchored = false;
}

/// Worker side, right before a task is freed: no runtime can read its request any more;
/// if Lua still anchors the string, tell it at its next call.
pub fn on_free(task: TaskPtr) {
    if !task.is_lent() {
        return;
    }
    LIVE.with(|n| n.set(n.get().saturating_sub(1)));
    // SAFETY: worker thread; the waiter side is the worker's.
    let side = unsafe { task.side() };
    if std::mem::take(&mut side.anchored) {
        let handle = task.handle() as u64;
        RELEASED.with(|r| r.borrow_mut().push(handle));
    }
}

/// How many freed tasks' strings Lua may let go of.
pub fn released() -> usize {
    RELEASED.with(|r| r.borrow().len())
}

/// Moves up to `out.len()` released handles into `out`; returns how many.
pub fn take_released(out: &mut [u64]) -> usize {
    RELEASED.with(|r| {
        let mut r = r.borrow_mut();
        let n = out.len().min(r.len());
        let from = r.len() - n;
        out[..n].copy_from_slice(&r[from..]);
        r.truncate(from);
        n
    })
}

/// Lent tasks not freed yet.
pub fn live() -> usize {
    LIVE.with(Cell::get)
}

/// Worker exit, after the runtimes were unloaded: if a lent task is still out, a runtime
/// thread may read its string until the process ends, so the main VM must not be closed
/// (nginx closes it when it destroys the cycle's pool, right before `exit()`). The VM's
/// cleanup is disabled only if it is exactly lua-nginx-module's; false if it was not found.
pub fn keep_main_vm_at_exit() -> bool {
    if live() == 0 {
        return true;
    }
    let Some(vm) = lua_vm() else { return false };
    // SAFETY: the cycle's http configuration: conf_ctx[ngx_http_module.index] is the
    // ngx_http_conf_ctx_t {main_conf, srv_conf, loc_conf}; lua-nginx-module's main conf
    // starts with {lua_State *lua; ngx_pool_cleanup_t *vm_cleanup}, and that cleanup's data
    // is {lua_State *vm; ...}. Each pointer is checked before it is followed, and the
    // cleanup is changed only if its handler and VM are the expected ones.
    unsafe {
        let cycle = nginx_sys::ngx_cycle;
        if cycle.is_null() || (*cycle).conf_ctx.is_null() {
            return false;
        }
        let http = *(*cycle).conf_ctx.add(vm.http_index);
        if http.is_null() {
            return false;
        }
        let main_conf = *http.cast::<*mut *mut c_void>();
        if main_conf.is_null() {
            return false;
        }
        let lmcf = *main_conf.add(vm.lua_ctx_index);
        if lmcf.is_null() {
            return false;
        }
        let lua = *lmcf.cast::<*mut c_void>();
        let cln = *lmcf.cast::<*mut ngx_pool_cleanup_t>().add(1);
        if cln.is_null() || (*cln).data.is_null() {
            return false;
        }
        let is_vm_cleanup = (*cln).handler.map(|h| h as usize) == Some(vm.cleanup_vm);
        if !is_vm_cleanup || *(*cln).data.cast::<*mut c_void>() != lua {
            return false;
        }
        (*cln).handler = None;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_handles_are_taken_in_batches() {
        RELEASED.with(|r| r.borrow_mut().extend([1u64, 2, 3]));
        let mut out = [0u64; 2];
        assert_eq!(released(), 3);
        assert_eq!(take_released(&mut out), 2);
        assert_eq!(take_released(&mut out), 1);
        assert_eq!(take_released(&mut out), 0);
        assert_eq!(released(), 0);
    }
}
