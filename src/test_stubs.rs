//! Unit tests run without nginx: these stand in for the nginx *data* symbols the module
//! refers to (functions bind lazily and are never called by the tests; data must exist).

use nginx_sys::{ngx_cycle_t, ngx_event_actions_t, ngx_module_t, ngx_msec_t, ngx_queue_t, ngx_rbtree_t};

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_posted_events: ngx_queue_t = ngx_queue_t {
    prev: std::ptr::null_mut(),
    next: std::ptr::null_mut(),
};

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_posted_next_events: ngx_queue_t = ngx_queue_t {
    prev: std::ptr::null_mut(),
    next: std::ptr::null_mut(),
};

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_cycle: *mut ngx_cycle_t = std::ptr::null_mut();

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_process: nginx_sys::ngx_uint_t = 0;

#[no_mangle]
#[allow(non_upper_case_globals)]
// SAFETY: an all-zero table of optional function pointers is all `None`.
static mut ngx_event_actions: ngx_event_actions_t = unsafe { std::mem::zeroed() };

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_current_msec: ngx_msec_t = 0;

#[no_mangle]
#[allow(non_upper_case_globals)]
// SAFETY: an all-zero tree is never walked by a unit test.
static mut ngx_event_timer_rbtree: ngx_rbtree_t = unsafe { std::mem::zeroed() };

#[no_mangle]
#[allow(non_upper_case_globals)]
static mut ngx_core_module: ngx_module_t = ngx_module_t::default();

// Functions full RELRO binds at load time; none of them is reached by a unit test.
mod functions {
    use nginx_sys::{
        ngx_connection_t, ngx_err_t, ngx_event_t, ngx_int_t, ngx_log_t, ngx_rbtree_node_t, ngx_rbtree_t,
        ngx_socket_t, ngx_uint_t,
    };
    use std::ffi::c_char;

    #[no_mangle]
    extern "C" fn ngx_get_connection(_s: ngx_socket_t, _log: *mut ngx_log_t) -> *mut ngx_connection_t {
        std::ptr::null_mut()
    }

    #[no_mangle]
    extern "C" fn ngx_rbtree_insert(_tree: *mut ngx_rbtree_t, _node: *mut ngx_rbtree_node_t) {}

    #[no_mangle]
    extern "C" fn ngx_rbtree_delete(_tree: *mut ngx_rbtree_t, _node: *mut ngx_rbtree_node_t) {}

    #[no_mangle]
    extern "C" fn ngx_free_connection(_c: *mut ngx_connection_t) {}

    #[no_mangle]
    extern "C" fn ngx_handle_read_event(_rev: *mut ngx_event_t, _flags: ngx_uint_t) -> ngx_int_t {
        -1
    }

    #[no_mangle]
    unsafe extern "C" fn ngx_log_error_core(
        _level: ngx_uint_t,
        _log: *mut ngx_log_t,
        _err: ngx_err_t,
        _fmt: *const c_char,
    ) {
    }
}
