//! The shared-dictionary functions of the binding, behind `require('resty_ffi').sharedDict`
//! (js/loader.js): thin calls into the Rust SDK's `SharedDict`. A handle is the address of a
//! `SharedDict` kept for the process's life, one per name, as a BigInt.
//!
//! | function | what it does |
//! |---|---|
//! | `shdictOpen(name)` | the handle of a lua_shared_dict (throws if there is none) |
//! | `shdictGet(h, key)` | null, or `[type, flags, number, buffer]` (type as Lua's: 1 boolean, 3 number, 4 string) |
//! | `shdictStore(h, op, key, type, buffer, number, ttlMs, flags)` | 0 stored, 1 evicting valid items, 2 exists, 3 not found |
//! | `shdictIncr(h, key, delta, hasInit, init, initTtlMs)` | the new value |
//! | `shdictTtl(h, key)` | ms left, 0 never expires, -1 not there |
//! | `shdictExpire(h, key, ttlMs)` | 0 done, 1 not there |
//!
//! Keys are strings (UTF-8) or Buffers. Every function runs on the calling JS thread and
//! takes the zone's lock for a moment.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use resty_ffi_sdk::shdict::{self, Op, SharedDict, Value};

use crate::js_value::{Js, JsResult};
use crate::napi::*;

fn dict(js: Js, v: napi_value) -> JsResult<&'static SharedDict> {
    let h = js.get_u64(v, "shared dictionary handle")?;
    if h == 0 {
        return Err("shared dictionary handle is 0".into());
    }
    // SAFETY: handles come only from shdictOpen (js/loader.js keeps them in its closures),
    // which makes them from leaked boxes that live for the process.
    Ok(unsafe { &*(h as usize as *const SharedDict) })
}

fn bytes(js: Js, v: napi_value, what: &str) -> JsResult<Vec<u8>> {
    if let Some((p, len)) = js.buffer_bytes(v)? {
        if p.is_null() || len == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: the Buffer's bytes, alive during this call; copied at once.
        return Ok(unsafe { std::slice::from_raw_parts(p, len) }.to_vec());
    }
    Ok(js.get_string(v, what)?.into_bytes())
}

fn ttl(ms: f64) -> Option<Duration> {
    (ms > 0.0).then(|| Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX))
}

pub fn open(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    static OPEN: Mutex<Option<HashMap<String, &'static SharedDict>>> = Mutex::new(None);
    let [name] = js.args(info)?;
    let name = js.get_string(name, "shdictOpen(name)")?;
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    let map = open.get_or_insert_with(HashMap::new);
    let d = match map.get(&name) {
        Some(d) => *d,
        None => {
            let d: &'static SharedDict = Box::leak(Box::new(SharedDict::open(&name).map_err(|e| e.to_string())?));
            map.insert(name, d);
            d
        }
    };
    js.bigint(d as *const SharedDict as usize as u64)
}

pub fn get(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    let [h, key] = js.args(info)?;
    let d = dict(js, h)?;
    let key = bytes(js, key, "shdictGet(h, key): key")?;
    let Some((value, flags)) = d.get_with_flags(key).map_err(|e| e.to_string())? else {
        return js.null();
    };
    let flags = js.number(f64::from(flags))?;
    let items = match value {
        Value::Bool(b) => [js.int(1)?, flags, js.number(if b { 1.0 } else { 0.0 })?, js.null()?],
        Value::Number(n) => [js.int(3)?, flags, js.number(n)?, js.null()?],
        Value::String(s) => [js.int(4)?, flags, js.number(0.0)?, js.buffer(&s)?],
    };
    js.array(&items)
}

fn get_f64(js: Js, v: napi_value, what: &str) -> JsResult<f64> {
    js.get_f64(v, what)
}

pub fn store(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    let [h, op, key, kind, buf, num, ttl_ms, flags] = js.args(info)?;
    let d = dict(js, h)?;
    let op = match js.get_i32(op, "shdictStore: op")? {
        0 => Op::Set,
        1 => Op::Add,
        2 => Op::Replace,
        4 => Op::SafeSet,
        5 => Op::SafeAdd,
        _ => return Err("bad operation".into()),
    };
    let key = bytes(js, key, "shdictStore: key")?;
    let num = get_f64(js, num, "shdictStore: number")?;
    let value = match js.get_i32(kind, "shdictStore: type")? {
        0 => None,
        1 => Some(Value::Bool(num != 0.0)),
        3 => Some(Value::Number(num)),
        4 => Some(Value::String(bytes(js, buf, "shdictStore: value")?)),
        _ => return Err("bad value type".into()),
    };
    let ttl = ttl(get_f64(js, ttl_ms, "shdictStore: ttl")?);
    let flags = get_f64(js, flags, "shdictStore: flags")? as u32;
    let rc = match d.store(op, key, value.as_ref(), ttl, flags) {
        Ok(forcible) => i32::from(forcible),
        Err(shdict::Error::Exists) => 2,
        Err(shdict::Error::NotFound) => 3,
        Err(e) => return Err(e.to_string()),
    };
    js.int(rc)
}

pub fn incr(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    let [h, key, delta, has_init, init, init_ttl] = js.args(info)?;
    let d = dict(js, h)?;
    let key = bytes(js, key, "shdictIncr: key")?;
    let delta = get_f64(js, delta, "shdictIncr: delta")?;
    let init = if js.get_i32(has_init, "shdictIncr: hasInit")? != 0 {
        Some((get_f64(js, init, "shdictIncr: init")?, ttl(get_f64(js, init_ttl, "shdictIncr: initTtl")?)))
    } else {
        None
    };
    js.number(d.incr(key, delta, init).map_err(|e| e.to_string())?)
}

pub fn ttl_left(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    let [h, key] = js.args(info)?;
    let d = dict(js, h)?;
    let key = bytes(js, key, "shdictTtl: key")?;
    match d.ttl(key) {
        Ok(None) => js.number(0.0),
        Ok(Some(t)) => js.number(t.as_millis() as f64),
        Err(shdict::Error::NotFound) => js.number(-1.0),
        Err(e) => Err(e.to_string()),
    }
}

pub fn expire(js: Js, info: napi_callback_info) -> JsResult<napi_value> {
    let [h, key, ttl_ms] = js.args(info)?;
    let d = dict(js, h)?;
    let key = bytes(js, key, "shdictExpire: key")?;
    let ttl = ttl(get_f64(js, ttl_ms, "shdictExpire: ttl")?);
    match d.expire(key, ttl) {
        Ok(()) => js.int(0),
        Err(shdict::Error::NotFound) => js.int(1),
        Err(e) => Err(e.to_string()),
    }
}
