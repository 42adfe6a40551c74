//! The built-in binding `process._linkedBinding('resty_ffi')`, in Node's main environment
//! and in every worker thread it starts.
//!
//! | function | what it does |
//! |---|---|
//! | `log(level, msg)` | a line in nginx's error.log (level 1 emerg .. 8 debug) |
//! | `getReq(task)` | the request bytes as a Buffer (null for a task that is not waiting) |
//! | `respond(task, rc, body)` | answers once: body a Buffer, a string, or null/undefined |
//! | `poll(tq)` | BLOCKS until a task: its handle, or null once the runtime is unloaded |
//! | `pollBatch(tq, max)` | BLOCKS: an array of up to max handles, empty once unloaded |
//! | `cancelled(task)` | true once the caller gave up on the task |
//! | `deadline(task)` | when the caller stops waiting, CLOCK_MONOTONIC ms, or null |
//! | `cancelPoll(tq, max)` | BLOCKS: an array of up to max cancelled tasks, empty once unloaded |
//! | `streaming(task)` | 1 if the caller reads the task's answer as a stream, else 0 |
//! | `trySend(task, chunk)` | a Buffer as one chunk of a stream: 0 sent, 1 window full (nothing sent), -5 the caller stopped reading, -1 not a stream |
//! | `serve(tq, fn, cancel)` | the loader's: each task of tq becomes `fn(task, req, deadline, cancelled)` on this loop, each cancellation `cancel(task)` |
//! | `attachLoader(fn)` / `loadDone(id, err)` | the loader's: loads from libffi_init |
//! | `shdictOpen` .. `shdictExpire` | shared dictionaries (src/shdict_binding.rs) |
//!
//! Task and queue handles are BigInts. `poll`/`pollBatch`/`cancelPoll` block the calling
//! thread: use them from a worker thread, never on the main loop.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use resty_ffi_sdk::raw;

use crate::js_value::{Js, JsResult};
use crate::napi::*;
use crate::{loads, shdict_binding, task_pump, tasks};

/// The name JS uses: `process._linkedBinding('resty_ffi')`.
pub const NAME: &str = "resty_ffi";

const LOADER_SOURCE: &str = include_str!("../js/loader.js");

/// Runs a binding function: an Err or a panic becomes a thrown JS Error.
fn callback(
    env: napi_env,
    info: napi_callback_info,
    f: impl FnOnce(Js, napi_callback_info) -> JsResult<napi_value>,
) -> napi_value {
    // SAFETY: Node calls binding functions on its thread with a live env.
    let js = unsafe { Js::new(env) };
    match catch_unwind(AssertUnwindSafe(|| f(js, info))) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => {
            js.throw(&format!("resty_ffi: {msg}"));
            std::ptr::null_mut()
        }
        Err(_) => {
            js.throw("resty_ffi: panic in the native binding");
            std::ptr::null_mut()
        }
    }
}

/// A Buffer's bytes as a slice. An empty Buffer may have a NULL data pointer, which a slice
/// must never have (`Some` of such a slice would read as `None`).
///
/// # Safety
/// `p` and `len` are a live Buffer's, from `buffer_bytes`, and the Buffer outlives `'a`.
unsafe fn buffer_slice<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: per this function's contract.
    unsafe { std::slice::from_raw_parts(p, len) }
}

unsafe extern "C" fn js_log(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [level, msg] = js.args(info)?;
        let level = js.get_i32(level, "log(level, msg): level")?;
        match js.buffer_bytes(msg)? {
            // SAFETY: the Buffer's bytes, alive during this call.
            Some((p, len)) => raw::log_bytes(level, unsafe { buffer_slice(p, len) }),
            None => raw::log_line(level, &js.get_string(msg, "log(level, msg): msg")?),
        }
        js.undefined()
    })
}

unsafe extern "C" fn js_get_req(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task] = js.args(info)?;
        let task = js.get_u64(task, "getReq(task)")?;
        // SAFETY: copied into a Buffer at once.
        match unsafe { tasks::request(task) } {
            Some(req) => js.buffer(req),
            None => js.null(),
        }
    })
}

unsafe extern "C" fn js_respond(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task, rc, body] = js.args(info)?;
        let task = js.get_u64(task, "respond(task, rc, body): task")?;
        let rc = if js.is_nullish(rc)? {
            0
        } else {
            js.get_i32(rc, "respond(task, rc, body): rc")?
        };
        if js.is_nullish(body)? {
            tasks::respond_bytes(task, rc, None);
        } else if let Some((p, len)) = js.buffer_bytes(body)? {
            // SAFETY: the Buffer's bytes, alive during this call; copied by respond_bytes.
            tasks::respond_bytes(task, rc, Some(unsafe { buffer_slice(p, len) }));
        } else if js.type_of(body)? == NAPI_STRING {
            let (rsp, len) = js.string_to_malloc(body)?;
            // SAFETY: `rsp` is malloc()ed with `len` bytes and a NUL; the module takes it.
            unsafe { tasks::respond_malloced(task, rc, rsp, len) };
        } else {
            return Err(
                "respond(task, rc, body): body must be a Buffer, a string, null or undefined".to_string(),
            );
        }
        js.undefined()
    })
}

unsafe extern "C" fn js_poll(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [tq] = js.args(info)?;
        let tq = js.get_u64(tq, "poll(tq)")?;
        let mut got = Vec::with_capacity(1);
        tasks::poll_batch(tq, 1, &mut got);
        match got.first() {
            Some(task) => js.bigint(*task),
            None => js.null(),
        }
    })
}

unsafe extern "C" fn js_poll_batch(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [tq, max] = js.args(info)?;
        let tq = js.get_u64(tq, "pollBatch(tq, max): tq")?;
        let max = if js.is_nullish(max)? {
            tasks::BATCH as i32
        } else {
            js.get_i32(max, "pollBatch(tq, max): max")?
        };
        let mut got = Vec::new();
        tasks::poll_batch(tq, usize::try_from(max).unwrap_or(1), &mut got);
        let handles = got.iter().map(|t| js.bigint(*t)).collect::<JsResult<Vec<_>>>()?;
        js.array(&handles)
    })
}

unsafe extern "C" fn js_cancelled(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task] = js.args(info)?;
        let task = js.get_u64(task, "cancelled(task)")?;
        js.int(i32::from(tasks::cancelled(task)))
    })
}

unsafe extern "C" fn js_deadline(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task] = js.args(info)?;
        let task = js.get_u64(task, "deadline(task)")?;
        match tasks::deadline_ms(task) {
            Some(ms) => js.number(ms),
            None => js.null(),
        }
    })
}

unsafe extern "C" fn js_cancel_poll(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [tq, max] = js.args(info)?;
        let tq = js.get_u64(tq, "cancelPoll(tq, max): tq")?;
        let max = if js.is_nullish(max)? {
            tasks::BATCH as i32
        } else {
            js.get_i32(max, "cancelPoll(tq, max): max")?
        };
        let mut got = Vec::new();
        tasks::cancel_poll(tq, usize::try_from(max).unwrap_or(1), &mut got);
        let handles = got.iter().map(|t| js.bigint(*t)).collect::<JsResult<Vec<_>>>()?;
        js.array(&handles)
    })
}

unsafe extern "C" fn js_serve(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [tq, server, cancel] = js.args(info)?;
        let tq = js.get_u64(tq, "serve(tq, fn, cancel): tq")?;
        task_pump::serve(js, tq, server, cancel)?;
        js.undefined()
    })
}

unsafe extern "C" fn js_attach_loader(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [load_fn] = js.args(info)?;
        if js.type_of(load_fn)? != NAPI_FUNCTION {
            return Err("attachLoader(fn): a function expected".to_string());
        }
        loads::attach(js, load_fn)?;
        js.undefined()
    })
}

unsafe extern "C" fn js_load_done(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [id, err] = js.args(info)?;
        let mut id_num = 0f64;
        // SAFETY: live env and value; N-API checks the type.
        if unsafe { napi_get_value_double(js.env(), id, &mut id_num) } != NAPI_OK || id_num < 0.0 {
            return Err("loadDone(id, err): id must be a number".to_string());
        }
        let outcome = if js.is_nullish(err)? {
            Ok(())
        } else {
            Err(js.get_string(err, "loadDone(id, err): err")?)
        };
        loads::finish(id_num as u64, outcome);
        js.undefined()
    })
}

unsafe extern "C" fn js_shdict_open(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::open)
}

unsafe extern "C" fn js_shdict_get(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::get)
}

unsafe extern "C" fn js_shdict_store(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::store)
}

unsafe extern "C" fn js_shdict_incr(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::incr)
}

unsafe extern "C" fn js_shdict_ttl(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::ttl_left)
}

unsafe extern "C" fn js_shdict_expire(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, shdict_binding::expire)
}

unsafe extern "C" fn js_streaming(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task] = js.args(info)?;
        let task = js.get_u64(task, "streaming(task)")?;
        js.int(i32::from(tasks::streaming(task)))
    })
}

/// Never the blocking send: this runs on Node's loop, which must not wait for the reader.
unsafe extern "C" fn js_try_send(env: napi_env, info: napi_callback_info) -> napi_value {
    callback(env, info, |js, info| {
        let [task, chunk] = js.args(info)?;
        let task = js.get_u64(task, "trySend(task, chunk): task")?;
        let Some((p, len)) = js.buffer_bytes(chunk)? else {
            return Err("trySend(task, chunk): chunk must be a Buffer".to_string());
        };
        // SAFETY: the Buffer's bytes, alive during this call; the module copies them.
        js.int(tasks::try_send(task, unsafe { buffer_slice(p, len) }))
    })
}

fn define(js: Js, exports: napi_value) -> JsResult<()> {
    let functions: [(&CStr, napi_callback); 19] = [
        (c"log", js_log),
        (c"getReq", js_get_req),
        (c"respond", js_respond),
        (c"poll", js_poll),
        (c"pollBatch", js_poll_batch),
        (c"cancelled", js_cancelled),
        (c"deadline", js_deadline),
        (c"cancelPoll", js_cancel_poll),
        (c"streaming", js_streaming),
        (c"trySend", js_try_send),
        (c"serve", js_serve),
        (c"attachLoader", js_attach_loader),
        (c"loadDone", js_load_done),
        (c"shdictOpen", js_shdict_open),
        (c"shdictGet", js_shdict_get),
        (c"shdictStore", js_shdict_store),
        (c"shdictIncr", js_shdict_incr),
        (c"shdictTtl", js_shdict_ttl),
        (c"shdictExpire", js_shdict_expire),
    ];
    for (name, f) in functions {
        js.set(exports, name, js.function(name, f)?)?;
    }
    js.set(exports, c"loaderSource", js.string(LOADER_SOURCE)?)?;
    js.set(exports, c"batch", js.int(tasks::BATCH as i32)?)?;
    Ok(())
}

/// The binding's N-API init (registered by the C++ part with AddLinkedBinding).
///
/// # Safety
/// Called by Node on the thread of the environment it initialises the binding for.
pub unsafe extern "C" fn init(env: napi_env, exports: napi_value) -> napi_value {
    // SAFETY: Node passes the live env of the environment being set up.
    let js = unsafe { Js::new(env) };
    match catch_unwind(AssertUnwindSafe(|| define(js, exports))) {
        Ok(Ok(())) => exports,
        Ok(Err(e)) => {
            js.throw(&format!("resty_ffi binding: {e}"));
            std::ptr::null_mut()
        }
        Err(_) => {
            js.throw("resty_ffi binding: panic");
            std::ptr::null_mut()
        }
    }
}
