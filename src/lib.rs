//! ngx_http_resty_ffi_module: lets OpenResty Lua call runtime libraries (Go, Python, Java,
//! Rust, Node.js) without blocking the nginx worker.
//!
//! This file declares the nginx module and its worker hooks; see ARCHITECTURE.md for the
//! path of one call.

pub mod abi;
pub mod done_queue;
pub mod event_loop_probe;
pub mod handle_space;
pub mod lent;
pub mod load_diagnosis;
pub mod loaded;
pub mod malloc_tuning;
pub mod lua_sema;
pub mod panic_guard;
pub mod queue;
pub mod request_tasks;
pub mod runtime;
pub mod runtime_log;
pub mod shdict;
pub mod signal_mask;
pub mod stream;
pub mod spin;
pub mod task;
pub mod telemetry;
#[cfg(test)]
mod test_stubs;
pub mod unpin;
pub mod waiter;
pub mod worker;

use std::ptr::{addr_of, addr_of_mut};

use nginx_sys::{
    ngx_command_t, ngx_cycle_t, ngx_http_module_t, ngx_int_t, ngx_module_t, NGX_HTTP_MODULE, NGX_LOG_ERR,
};
use ngx::ngx_log_error;

static NGX_HTTP_RESTY_FFI_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: None,
    postconfiguration: None,
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: None,
    merge_loc_conf: None,
};

static mut NGX_HTTP_RESTY_FFI_COMMANDS: [ngx_command_t; 1] = [ngx_command_t::empty()];

// The `ngx_modules` table for a standalone cdylib; nginx's own build (`config`) makes it.
#[cfg(feature = "export-modules")]
ngx::ngx_modules!(ngx_http_resty_ffi_module);

#[used]
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_resty_ffi_module: ngx_module_t = ngx_module_t {
    ctx: addr_of!(NGX_HTTP_RESTY_FFI_MODULE_CTX) as _,
    // nginx only reads the (empty) directive table.
    commands: addr_of_mut!(NGX_HTTP_RESTY_FFI_COMMANDS) as *mut ngx_command_t,
    type_: NGX_HTTP_MODULE as _,
    init_process: Some(init_process),
    exit_process: Some(exit_process),
    ..ngx_module_t::default()
};

/// This module's index into `r->ctx`.
pub fn module_ctx_index() -> usize {
    // SAFETY: ctx_index is written by nginx at configuration time, read-only afterwards.
    unsafe { (*addr_of!(ngx_http_resty_ffi_module)).ctx_index }
}

extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // Cache manager/loader processes run init_process too; only workers serve Lua.
    // SAFETY: ngx_process is set before any init_process hook runs.
    let process = unsafe { nginx_sys::ngx_process } as u32;
    if process != nginx_sys::NGX_PROCESS_WORKER && process != nginx_sys::NGX_PROCESS_SINGLE {
        return 0;
    }
    malloc_tuning::settle_heap_thresholds();
    let res = panic_guard::guard(Err("panic".to_string()), worker::init);
    if let Err(e) = res {
        // Not fatal for the worker: nginx serves on, and ngx.load_ffi reports the reason.
        // SAFETY: cycle is the live cycle nginx passes to init_process.
        let log = unsafe { (*cycle).log };
        ngx_log_error!(NGX_LOG_ERR, log, "resty_ffi: worker init failed: {}", e);
    }
    0
}

extern "C" fn exit_process(_cycle: *mut ngx_cycle_t) {
    // Runtime threads outlive this: they must be out of every shared zone before nginx frees
    // the cycle and exit() kills them (see shdict.rs).
    panic_guard::guard((), shdict::close_for_exit);
    panic_guard::guard((), worker::exit)
}
