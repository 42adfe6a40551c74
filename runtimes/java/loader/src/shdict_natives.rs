//! The shared-dictionary natives of `resty.ffi.Native` (behind `resty.ffi.SharedDict`): thin
//! calls into the Rust SDK's `SharedDict`. A zone handle is the address of a `SharedDict`
//! kept for the process's life, one per name (opening a name again returns the same one).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jni::errors::Error;
use jni::objects::{JByteArray, JClass};
use jni::sys::{jboolean, jdouble, jint, jlong};
use jni::{jni_str, native_method, Env, NativeMethod};

use resty_ffi_sdk::shdict::{self, Op, SharedDict, Value};

pub const METHODS: [NativeMethod; 6] = [SHDICT_OPEN, SHDICT_GET, SHDICT_STORE, SHDICT_INCR, SHDICT_TTL, SHDICT_EXPIRE];

/// Throws `resty.ffi.SharedDictException(msg)`; the error tells the wrapper it is pending.
fn throw(env: &mut Env, msg: &str) -> Error {
    match env.throw_new(jni_str!("resty/ffi/SharedDictException"), jni::strings::JNIString::from(msg)) {
        Err(e) => e,
        Ok(()) => Error::JavaException,
    }
}

fn bytes(env: &mut Env, array: &JByteArray, what: &str) -> Result<Vec<u8>, Error> {
    if array.is_null() {
        return Err(throw(env, &format!("{what} is null")));
    }
    env.convert_byte_array(array)
}

/// The dict behind a handle from shdict_open.
fn dict(env: &mut Env, handle: jlong) -> Result<&'static SharedDict, Error> {
    if handle == 0 {
        return Err(throw(env, "shared dictionary handle is 0"));
    }
    // SAFETY: handles are made only by shdict_open (resty.ffi.SharedDict keeps them private)
    // from leaked boxes that live for the process.
    Ok(unsafe { &*(handle as usize as *const SharedDict) })
}

fn ttl(ms: jlong) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

const SHDICT_OPEN: NativeMethod = native_method! {
    static fn shdict_open(name: jbyte[]) -> jlong,
};

/// `static native long shdictOpen(byte[] utf8Name)`: a handle of the zone.
fn shdict_open<'local>(env: &mut Env<'local>, _class: JClass<'local>, name: JByteArray<'local>) -> Result<jlong, Error> {
    static OPEN: Mutex<Option<HashMap<String, &'static SharedDict>>> = Mutex::new(None);
    let name = String::from_utf8_lossy(&bytes(env, &name, "name")?).into_owned();
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    let map = open.get_or_insert_with(HashMap::new);
    if let Some(d) = map.get(&name) {
        return Ok(*d as *const SharedDict as usize as jlong);
    }
    match SharedDict::open(&name) {
        Ok(d) => {
            let d: &'static SharedDict = Box::leak(Box::new(d));
            map.insert(name, d);
            Ok(d as *const SharedDict as usize as jlong)
        }
        Err(e) => Err(throw(env, &e.to_string())),
    }
}

const SHDICT_GET: NativeMethod = native_method! {
    static fn shdict_get(dict: jlong, key: jbyte[]) -> jbyte[],
};

/// `static native byte[] shdictGet(long dict, byte[] key)`: null when absent; else a type byte
/// (Lua's: 1 boolean, 3 number, 4 string), 4 bytes of flags (big endian), then 8 bytes of
/// the number (IEEE 754, big endian; booleans 0/1) or the string's bytes.
fn shdict_get<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    handle: jlong,
    key: JByteArray<'local>,
) -> Result<JByteArray<'local>, Error> {
    let d = dict(env, handle)?;
    let key = bytes(env, &key, "key")?;
    let (value, flags) = match d.get_with_flags(key) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(JByteArray::default()),
        Err(e) => return Err(throw(env, &e.to_string())),
    };
    let mut out = Vec::new();
    let number = |out: &mut Vec<u8>, tag: u8, n: f64| {
        out.push(tag);
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&n.to_be_bytes());
    };
    match value {
        Value::Bool(b) => number(&mut out, 1, if b { 1.0 } else { 0.0 }),
        Value::Number(n) => number(&mut out, 3, n),
        Value::String(s) => {
            out.reserve(5 + s.len());
            out.push(4);
            out.extend_from_slice(&flags.to_be_bytes());
            out.extend_from_slice(&s);
        }
    }
    env.byte_array_from_slice(&out)
}

const SHDICT_STORE: NativeMethod = native_method! {
    static fn shdict_store(dict: jlong, op: jint, key: jbyte[], kind: jint, str: jbyte[], num: jdouble, ttl_ms: jlong, flags: jint) -> jint,
};

/// `static native int shdictStore(long dict, int op, byte[] key, int type, byte[] str,
/// double num, long ttlMs, int flags)`: 0 stored, 1 stored evicting valid items, 2 exists
/// (add), 3 not found (replace). Type 0 deletes.
#[allow(clippy::too_many_arguments)]
fn shdict_store<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    handle: jlong,
    op: jint,
    key: JByteArray<'local>,
    kind: jint,
    str: JByteArray<'local>,
    num: jdouble,
    ttl_ms: jlong,
    flags: jint,
) -> Result<jint, Error> {
    let d = dict(env, handle)?;
    let key = bytes(env, &key, "key")?;
    let op = match op {
        0 => Op::Set,
        1 => Op::Add,
        2 => Op::Replace,
        4 => Op::SafeSet,
        5 => Op::SafeAdd,
        _ => return Err(throw(env, "bad operation")),
    };
    let value = match kind {
        0 => None,
        1 => Some(Value::Bool(num != 0.0)),
        3 => Some(Value::Number(num)),
        4 => Some(Value::String(bytes(env, &str, "value")?)),
        _ => return Err(throw(env, "bad value type")),
    };
    match d.store(op, key, value.as_ref(), ttl(ttl_ms), flags as u32) {
        Ok(forcible) => Ok(jint::from(forcible)),
        Err(shdict::Error::Exists) => Ok(2),
        Err(shdict::Error::NotFound) => Ok(3),
        Err(e) => Err(throw(env, &e.to_string())),
    }
}

const SHDICT_INCR: NativeMethod = native_method! {
    static fn shdict_incr(dict: jlong, key: jbyte[], delta: jdouble, has_init: jboolean, init: jdouble, init_ttl_ms: jlong) -> jdouble,
};

/// `static native double shdictIncr(long dict, byte[] key, double delta, boolean hasInit,
/// double init, long initTtlMs)`: the new value; SharedDictException("not found", "not a
/// number", ...) otherwise.
#[allow(clippy::too_many_arguments)]
fn shdict_incr<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    handle: jlong,
    key: JByteArray<'local>,
    delta: jdouble,
    has_init: jboolean,
    init: jdouble,
    init_ttl_ms: jlong,
) -> Result<jdouble, Error> {
    let d = dict(env, handle)?;
    let key = bytes(env, &key, "key")?;
    let init = has_init.then(|| (init, ttl(init_ttl_ms)));
    d.incr(key, delta, init).map_err(|e| throw(env, &e.to_string()))
}

const SHDICT_TTL: NativeMethod = native_method! {
    static fn shdict_ttl(dict: jlong, key: jbyte[]) -> jlong,
};

/// `static native long shdictTtl(long dict, byte[] key)`: ms left, 0 never expires, -1 not
/// there.
fn shdict_ttl<'local>(env: &mut Env<'local>, _class: JClass<'local>, handle: jlong, key: JByteArray<'local>) -> Result<jlong, Error> {
    let d = dict(env, handle)?;
    let key = bytes(env, &key, "key")?;
    match d.ttl(key) {
        Ok(None) => Ok(0),
        Ok(Some(t)) => Ok(jlong::try_from(t.as_millis()).unwrap_or(jlong::MAX).max(1)),
        Err(shdict::Error::NotFound) => Ok(-1),
        Err(e) => Err(throw(env, &e.to_string())),
    }
}

const SHDICT_EXPIRE: NativeMethod = native_method! {
    static fn shdict_expire(dict: jlong, key: jbyte[], ttl_ms: jlong) -> jboolean,
};

/// `static native boolean shdictExpire(long dict, byte[] key, long ttlMs)`: false if the key
/// is not there.
fn shdict_expire<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    handle: jlong,
    key: JByteArray<'local>,
    ttl_ms: jlong,
) -> Result<jboolean, Error> {
    let d = dict(env, handle)?;
    let key = bytes(env, &key, "key")?;
    match d.expire(key, ttl(ttl_ms)) {
        Ok(()) => Ok(true),
        Err(shdict::Error::NotFound) => Ok(false),
        Err(e) => Err(throw(env, &e.to_string())),
    }
}
