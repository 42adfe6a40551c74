//! nginx's shared dictionaries (`lua_shared_dict`) from runtime threads.
//!
//! A value stored here is what `ngx.shared.DICT:get()` reads in Lua, in every worker, and
//! back: the same zone, lock and expiry. The module's functions are looked up at run time
//! (like [`raw::module_abi`](crate::raw::module_abi)), so a runtime links and its unit tests
//! run without nginx, and a module without shared dictionaries fails [`SharedDict::open`],
//! not the runtime's load.

use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use resty_ffi_abi::shdict as abi;

use crate::raw::MissingSymbol;

type OpenFn = unsafe extern "C" fn(*const c_char, usize, *mut *const c_char) -> *mut c_void;
type GetFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    usize,
    *mut c_int,
    *mut *mut c_char,
    *mut usize,
    *mut f64,
    *mut c_int,
    *mut *const c_char,
) -> c_int;
type StoreFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const c_char,
    usize,
    c_int,
    *const c_char,
    usize,
    f64,
    c_long,
    c_int,
    *mut c_int,
    *mut *const c_char,
) -> c_int;
type IncrFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    usize,
    f64,
    c_int,
    f64,
    c_long,
    *mut f64,
    *mut c_int,
    *mut *const c_char,
) -> c_int;
type TtlFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> c_long;
type ExpireFn = unsafe extern "C" fn(*mut c_void, *const c_char, usize, c_long) -> c_int;

struct ShdictAbi {
    open: OpenFn,
    get: GetFn,
    store: StoreFn,
    incr: IncrFn,
    ttl: TtlFn,
    expire: ExpireFn,
}

fn symbol(name: &'static CStr) -> Result<*mut c_void, MissingSymbol> {
    crate::raw::lookup_symbol(name)
}

fn resolve() -> Result<ShdictAbi, MissingSymbol> {
    let open = symbol(c"ngx_http_resty_ffi_shdict")?;
    let get = symbol(c"ngx_http_resty_ffi_shdict_get")?;
    let store = symbol(c"ngx_http_resty_ffi_shdict_store")?;
    let incr = symbol(c"ngx_http_resty_ffi_shdict_incr")?;
    let ttl = symbol(c"ngx_http_resty_ffi_shdict_ttl")?;
    let expire = symbol(c"ngx_http_resty_ffi_shdict_expire")?;
    // SAFETY: the module exports these names with exactly these signatures (abi/resty_ffi.h).
    unsafe {
        Ok(ShdictAbi {
            open: std::mem::transmute::<*mut c_void, OpenFn>(open),
            get: std::mem::transmute::<*mut c_void, GetFn>(get),
            store: std::mem::transmute::<*mut c_void, StoreFn>(store),
            incr: std::mem::transmute::<*mut c_void, IncrFn>(incr),
            ttl: std::mem::transmute::<*mut c_void, TtlFn>(ttl),
            expire: std::mem::transmute::<*mut c_void, ExpireFn>(expire),
        })
    }
}

fn shdict_abi() -> Result<&'static ShdictAbi, Error> {
    static ABI: OnceLock<Result<ShdictAbi, MissingSymbol>> = OnceLock::new();
    ABI.get_or_init(resolve)
        .as_ref()
        .map_err(|e| Error::ModuleMissing(*e))
}

/// A value in a shared dictionary: Lua's boolean, number or string (any bytes).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Number(f64),
    String(Vec<u8>),
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::Number(f64::from(n))
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.as_bytes().to_vec())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into_bytes())
    }
}
impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::String(b.to_vec())
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::String(b)
    }
}

/// What went wrong. The module's answers about a key are their own variants; its other
/// messages ("empty key", "key too long", "no memory", ...) are [`Error::Dict`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// This process has no resty-ffi module with shared dictionaries (outside nginx, or an
    /// older module).
    ModuleMissing(MissingSymbol),
    /// No `lua_shared_dict` of that name.
    NoSuchDict(String),
    /// `add`: the key is there (and valid).
    Exists,
    /// `replace`, `incr` without init, `ttl`, `expire`: the key is not there.
    NotFound,
    /// `incr`: the value is not a number.
    NotANumber,
    /// Any other error, with the module's message.
    Dict(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ModuleMissing(m) => write!(f, "shared dictionaries unavailable: {m}"),
            Error::NoSuchDict(name) => write!(f, "no shared dictionary {name:?}"),
            Error::Exists => f.write_str("exists"),
            Error::NotFound => f.write_str("not found"),
            Error::NotANumber => f.write_str("not a number"),
            Error::Dict(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// How [`SharedDict::store`] stores: as `ngx.shared.DICT`'s set, add, replace, safe_set and
/// safe_add (the safe ones fail with "no memory" rather than evict valid items).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Set,
    Add,
    Replace,
    SafeSet,
    SafeAdd,
}

impl Op {
    fn code(self) -> c_int {
        match self {
            Op::Set => abi::SET,
            Op::Add => abi::ADD,
            Op::Replace => abi::REPLACE,
            Op::SafeSet => abi::SAFE_SET,
            Op::SafeAdd => abi::SAFE_ADD,
        }
    }
}

/// A module message (a static C string) as text.
fn message(err: *const c_char, fallback: &str) -> String {
    if err.is_null() {
        return fallback.to_string();
    }
    // SAFETY: the module's messages are static NUL-terminated strings.
    unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned()
}

fn declined(err: *const c_char, fallback: &str) -> Error {
    match message(err, fallback).as_str() {
        "exists" => Error::Exists,
        "not found" => Error::NotFound,
        "not a number" => Error::NotANumber,
        other => Error::Dict(other.to_string()),
    }
}

/// A time to live in the module's ms: None (never) is 0; a positive duration is at least
/// 1 ms (0 would mean never); longer than c_long holds is cut there.
fn ttl_ms(ttl: Option<Duration>) -> c_long {
    match ttl {
        None => 0,
        Some(d) if d.is_zero() => 0,
        Some(d) => c_long::try_from(d.as_millis()).unwrap_or(c_long::MAX).max(1),
    }
}

/// One `lua_shared_dict` zone. Cheap to copy around threads; valid for the worker's life.
#[derive(Clone, Copy)]
pub struct SharedDict {
    zone: *mut c_void,
    abi: &'static ShdictAbi,
}

// SAFETY: the zone handle is valid for the worker's life, and the module's functions lock the
// zone themselves: they are callable from any thread.
unsafe impl Send for SharedDict {}
// SAFETY: as above; the handle is never written through by this type.
unsafe impl Sync for SharedDict {}

impl fmt::Debug for SharedDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedDict").field("zone", &self.zone).finish()
    }
}

impl SharedDict {
    /// The zone of `lua_shared_dict name ...;`.
    pub fn open(name: &str) -> Result<SharedDict, Error> {
        let abi = shdict_abi()?;
        let mut err: *const c_char = std::ptr::null();
        // SAFETY: name is valid for name.len() bytes; err is a valid out pointer.
        let zone = unsafe { (abi.open)(name.as_ptr().cast(), name.len(), &mut err) };
        if zone.is_null() {
            return Err(Error::NoSuchDict(name.to_string()));
        }
        Ok(SharedDict { zone, abi })
    }

    /// The value of a key, None when it is absent or expired.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>, Error> {
        Ok(self.get_with_flags(key)?.map(|(v, _)| v))
    }

    /// The value of a key and its user flags, None when it is absent or expired.
    pub fn get_with_flags(&self, key: impl AsRef<[u8]>) -> Result<Option<(Value, u32)>, Error> {
        let key = key.as_ref();
        let mut ty: c_int = abi::NIL;
        let mut s: *mut c_char = std::ptr::null_mut();
        let mut len: usize = 0;
        let mut num: f64 = 0.0;
        let mut flags: c_int = 0;
        let mut err: *const c_char = std::ptr::null();
        // SAFETY: a zone from open; key valid for its length; every out pointer is ours.
        let rc = unsafe {
            (self.abi.get)(
                self.zone,
                key.as_ptr().cast(),
                key.len(),
                &mut ty,
                &mut s,
                &mut len,
                &mut num,
                &mut flags,
                &mut err,
            )
        };
        if rc != 0 {
            return Err(Error::Dict(message(err, "shared dictionary get failed")));
        }
        let flags = flags as u32;
        Ok(match ty {
            abi::BOOLEAN => Some((Value::Bool(num != 0.0), flags)),
            abi::NUMBER => Some((Value::Number(num), flags)),
            abi::STRING => {
                let bytes = if s.is_null() || len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the module's malloc()ed copy of len bytes.
                    unsafe { std::slice::from_raw_parts(s.cast::<u8>(), len) }.to_vec()
                };
                if !s.is_null() {
                    // SAFETY: malloc()ed by the module for us, freed once.
                    unsafe { libc::free(s.cast()) };
                }
                Some((Value::String(bytes), flags))
            }
            _ => None,
        })
    }

    /// Stores `value` under `key` with `op`, expiring after `ttl` (None: never) and with
    /// user `flags`. Ok(true) when valid items were evicted for room ("forcible" in Lua).
    pub fn store(
        &self,
        op: Op,
        key: impl AsRef<[u8]>,
        value: Option<&Value>,
        ttl: Option<Duration>,
        flags: u32,
    ) -> Result<bool, Error> {
        let key = key.as_ref();
        let (ty, s, num): (c_int, &[u8], f64) = match value {
            None => (abi::NIL, &[], 0.0),
            Some(Value::Bool(b)) => (abi::BOOLEAN, &[], if *b { 1.0 } else { 0.0 }),
            Some(Value::Number(n)) => (abi::NUMBER, &[], *n),
            Some(Value::String(bytes)) => (abi::STRING, bytes.as_slice(), 0.0),
        };
        let mut forcible: c_int = 0;
        let mut err: *const c_char = std::ptr::null();
        // SAFETY: a zone from open; key and s valid for their lengths; out pointers ours.
        let rc = unsafe {
            (self.abi.store)(
                self.zone,
                op.code(),
                key.as_ptr().cast(),
                key.len(),
                ty,
                s.as_ptr().cast(),
                s.len(),
                num,
                ttl_ms(ttl),
                flags as c_int,
                &mut forcible,
                &mut err,
            )
        };
        match rc {
            0 => Ok(forcible != 0),
            1 => Err(declined(err, "not stored")),
            _ => Err(Error::Dict(message(err, "shared dictionary store failed"))),
        }
    }

    /// `set`: stores, evicting the oldest items if the zone is full.
    pub fn set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        self.store(Op::Set, key, Some(&value.into()), ttl, 0).map(drop)
    }

    /// `add`: stores only if the key is not there ([`Error::Exists`] otherwise).
    pub fn add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        self.store(Op::Add, key, Some(&value.into()), ttl, 0).map(drop)
    }

    /// `replace`: stores only if the key is there ([`Error::NotFound`] otherwise).
    pub fn replace(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        self.store(Op::Replace, key, Some(&value.into()), ttl, 0)
            .map(drop)
    }

    /// `safe_set`: as set, but "no memory" rather than evicting valid items.
    pub fn safe_set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        self.store(Op::SafeSet, key, Some(&value.into()), ttl, 0)
            .map(drop)
    }

    /// `safe_add`: as add, but "no memory" rather than evicting valid items.
    pub fn safe_add(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), Error> {
        self.store(Op::SafeAdd, key, Some(&value.into()), ttl, 0)
            .map(drop)
    }

    /// Deletes a key (absent already is fine).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        self.store(Op::Set, key, None, None, 0).map(drop)
    }

    /// Adds `delta` to a number and returns the new value. A missing key is
    /// [`Error::NotFound`], or with `init` `Some((start, ttl))` starts at `start` (expiring
    /// after `ttl`, None: never); a value that is not a number is [`Error::NotANumber`].
    pub fn incr(
        &self,
        key: impl AsRef<[u8]>,
        delta: f64,
        init: Option<(f64, Option<Duration>)>,
    ) -> Result<f64, Error> {
        let key = key.as_ref();
        let (has_init, start, init_ttl) = match init {
            Some((start, ttl)) => (1, start, ttl_ms(ttl)),
            None => (0, 0.0, 0),
        };
        let mut value: f64 = 0.0;
        let mut forcible: c_int = 0;
        let mut err: *const c_char = std::ptr::null();
        // SAFETY: a zone from open; key valid for its length; out pointers ours.
        let rc = unsafe {
            (self.abi.incr)(
                self.zone,
                key.as_ptr().cast(),
                key.len(),
                delta,
                has_init,
                start,
                init_ttl,
                &mut value,
                &mut forcible,
                &mut err,
            )
        };
        match rc {
            0 => Ok(value),
            1 => Err(declined(err, "not found")),
            _ => Err(Error::Dict(message(err, "shared dictionary incr failed"))),
        }
    }

    /// The time a key has left: Ok(None) if it never expires, [`Error::NotFound`] if it is
    /// not there.
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Duration>, Error> {
        let key = key.as_ref();
        // SAFETY: a zone from open; key valid for its length.
        let ms = unsafe { (self.abi.ttl)(self.zone, key.as_ptr().cast(), key.len()) };
        match ms {
            0 => Ok(None),
            ms if ms > 0 => Ok(Some(Duration::from_millis(ms as u64))),
            _ => Err(Error::NotFound),
        }
    }

    /// Sets when a key expires (None: never). [`Error::NotFound`] if it is not there.
    pub fn expire(&self, key: impl AsRef<[u8]>, ttl: Option<Duration>) -> Result<(), Error> {
        let key = key.as_ref();
        // SAFETY: a zone from open; key valid for its length.
        let rc = unsafe { (self.abi.expire)(self.zone, key.as_ptr().cast(), key.len(), ttl_ms(ttl)) };
        match rc {
            0 => Ok(()),
            1 => Err(Error::NotFound),
            _ => Err(Error::Dict("bad arguments".to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_without_the_module_names_the_symbol() {
        let e = SharedDict::open("d").expect_err("no module in a test process");
        assert_eq!(
            e,
            Error::ModuleMissing(MissingSymbol::new("ngx_http_resty_ffi_shdict"))
        );
        assert!(e.to_string().contains("ngx_http_resty_ffi_shdict"), "{e}");
    }

    #[test]
    fn ttls_in_ms() {
        assert_eq!(ttl_ms(None), 0);
        assert_eq!(ttl_ms(Some(Duration::ZERO)), 0);
        assert_eq!(ttl_ms(Some(Duration::from_micros(10))), 1);
        assert_eq!(ttl_ms(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(ttl_ms(Some(Duration::MAX)), c_long::MAX);
    }

    #[test]
    fn values_from_rust_types() {
        assert_eq!(Value::from("a"), Value::String(b"a".to_vec()));
        assert_eq!(Value::from(3), Value::Number(3.0));
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from(&b"\0x"[..]), Value::String(vec![0, b'x']));
    }

    #[test]
    fn ops_match_the_abi() {
        assert_eq!(Op::Set.code(), 0);
        assert_eq!(Op::Add.code(), 1);
        assert_eq!(Op::Replace.code(), 2);
        assert_eq!(Op::SafeSet.code(), 4);
        assert_eq!(Op::SafeAdd.code(), 5);
    }

    #[test]
    fn declined_messages() {
        assert_eq!(declined(c"exists".as_ptr(), "x"), Error::Exists);
        assert_eq!(declined(c"not found".as_ptr(), "x"), Error::NotFound);
        assert_eq!(declined(c"not a number".as_ptr(), "x"), Error::NotANumber);
        assert_eq!(
            declined(std::ptr::null(), "no memory"),
            Error::Dict("no memory".into())
        );
    }
}
