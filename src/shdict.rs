//! nginx's shared dictionaries (`lua_shared_dict`) for runtime threads.
//!
//! lua-nginx-module exports the C functions behind lua-resty-core's `ngx.shared.DICT`
//! (`ngx_http_lua_ffi_shdict_*`) and `ngx_http_lua_find_zone`; this forwards to them, so a
//! value a runtime writes is exactly what Lua's `ngx.shared.DICT:get()` reads, and back.
//!
//! Why that is safe from a thread other than nginx's: each operation takes the zone's
//! shared-memory mutex (`ngx_shmtx_lock`: an atomic compare-and-set on the zone's lock word,
//! spinning, then a process-shared semaphore), which is the one lock every worker's Lua code
//! takes too; the slab allocator and the red-black tree are only touched under it. Nothing
//! else they use is per-thread: the current time comes from nginx's cached time (read
//! without a lock, so a runtime thread may see it up to one event-loop iteration old:
//! expiry is that coarse for it), a full zone evicts or fails exactly as for Lua
//! (`forcible`, "no memory"; the zone does not log it, lua-nginx-module turns that off), and
//! the zone pointer stays valid for the worker's life (a reload starts new workers with new
//! zones; an old worker keeps its own until it exits).
//!
//! Until it exits, but not beyond: runtime threads run on while the worker ends
//! (`exit_process`, then nginx frees the cycle's pool, which holds the zone structures these
//! pointers lead to, then `exit()` kills every thread wherever it is). A thread killed
//! inside an operation leaves the zone half-updated, with its lock word naming a dead pid
//! that the master force-unlocks for the other workers; a thread that starts one after the
//! pool was freed reads freed memory. So [`close_for_exit`] (the module's `exit_process`)
//! shuts a gate every operation passes, and waits a little for those in progress:
//! afterwards they fail with "worker exiting".

use std::ffi::{c_char, c_double, c_int, c_long, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Operations in progress in this process, and whether the worker is exiting.
static IN_PROGRESS: AtomicUsize = AtomicUsize::new(0);
static CLOSED: AtomicBool = AtomicBool::new(false);
/// How long the exiting worker waits for operations in progress (each holds the zone's lock
/// for well under a millisecond; one waiting for a lock another process holds takes longer).
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// An operation in progress (see [`close_for_exit`]).
struct InProgress;

impl Drop for InProgress {
    fn drop(&mut self) {
        IN_PROGRESS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every operation's first step: counted in progress, unless the worker is exiting.
fn begin() -> Result<InProgress, &'static str> {
    // SeqCst with close_for_exit: of "count, then read the gate" here and "shut the gate,
    // then read the count" there, one sees the other's write.
    IN_PROGRESS.fetch_add(1, Ordering::SeqCst);
    let op = InProgress;
    if CLOSED.load(Ordering::SeqCst) {
        return Err("worker exiting");
    }
    Ok(op)
}

/// The worker is exiting (worker thread, `exit_process`): no operation starts any more, and
/// those in progress get up to `EXIT_WAIT` to finish before nginx frees the cycle and exits.
pub fn close_for_exit() {
    CLOSED.store(true, Ordering::SeqCst);
    let start = Instant::now();
    while IN_PROGRESS.load(Ordering::SeqCst) > 0 && start.elapsed() < EXIT_WAIT {
        std::thread::sleep(Duration::from_micros(100));
    }
}

type FindZoneFn = unsafe extern "C" fn(*const u8, usize) -> *mut c_void;
type GetFn = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    *mut c_int,
    *mut *mut u8,
    *mut usize,
    *mut c_double,
    *mut c_int,
    c_int,
    *mut c_int,
    *mut *const c_char,
) -> c_int;
type StoreFn = unsafe extern "C" fn(
    *mut c_void,
    c_int,
    *const u8,
    usize,
    c_int,
    *const u8,
    usize,
    c_double,
    c_long,
    c_int,
    *mut *const c_char,
    *mut c_int,
) -> c_int;
type IncrFn = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    *mut c_double,
    *mut *const c_char,
    c_int,
    c_double,
    c_long,
    *mut c_int,
) -> c_int;
type GetTtlFn = unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_long;
type SetExpireFn = unsafe extern "C" fn(*mut c_void, *const u8, usize, c_long) -> c_int;

/// lua-nginx-module's result codes.
const NGX_OK: c_int = 0;
const NGX_DECLINED: c_int = -5;

/// Value types, as Lua's (and lua-nginx-module's) type tags (the contract's RESTY_FFI_SHDICT_*).
pub const TYPE_NIL: c_int = resty_ffi_abi::shdict::NIL;
pub const TYPE_BOOLEAN: c_int = resty_ffi_abi::shdict::BOOLEAN;
pub const TYPE_NUMBER: c_int = resty_ffi_abi::shdict::NUMBER;
pub const TYPE_STRING: c_int = resty_ffi_abi::shdict::STRING;

/// Store operations (lua-nginx-module's flags): set, add, replace, and the "safe" variants
/// that fail with "no memory" instead of evicting valid items.
pub const OP_SET: c_int = resty_ffi_abi::shdict::SET;
pub const OP_ADD: c_int = resty_ffi_abi::shdict::ADD;
pub const OP_REPLACE: c_int = resty_ffi_abi::shdict::REPLACE;
pub const OP_SAFE_SET: c_int = resty_ffi_abi::shdict::SAFE_SET;
pub const OP_SAFE_ADD: c_int = resty_ffi_abi::shdict::SAFE_ADD;

struct Api {
    find_zone: FindZoneFn,
    get: GetFn,
    store: StoreFn,
    incr: IncrFn,
    get_ttl: GetTtlFn,
    set_expire: SetExpireFn,
}

fn lookup(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name has no preconditions.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!sym.is_null()).then_some(sym)
}

fn api() -> Result<&'static Api, &'static str> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let find_zone = lookup(c"ngx_http_lua_find_zone")?;
        let get = lookup(c"ngx_http_lua_ffi_shdict_get")?;
        let store = lookup(c"ngx_http_lua_ffi_shdict_store")?;
        let incr = lookup(c"ngx_http_lua_ffi_shdict_incr")?;
        let get_ttl = lookup(c"ngx_http_lua_ffi_shdict_get_ttl")?;
        let set_expire = lookup(c"ngx_http_lua_ffi_shdict_set_expire")?;
        // SAFETY: lua-nginx-module's exported functions with these signatures (lua-resty-core's
        // resty/core/shdict.lua declares the same; ngx_http_lua_api.h declares find_zone).
        unsafe {
            Some(Api {
                find_zone: std::mem::transmute::<*mut c_void, FindZoneFn>(find_zone),
                get: std::mem::transmute::<*mut c_void, GetFn>(get),
                store: std::mem::transmute::<*mut c_void, StoreFn>(store),
                incr: std::mem::transmute::<*mut c_void, IncrFn>(incr),
                get_ttl: std::mem::transmute::<*mut c_void, GetTtlFn>(get_ttl),
                set_expire: std::mem::transmute::<*mut c_void, SetExpireFn>(set_expire),
            })
        }
    })
    .as_ref()
    .ok_or("lua-nginx-module's shared dictionary functions are not in this process")
}

/// A zone by name, or why not.
pub fn find(name: &[u8]) -> Result<*mut c_void, &'static str> {
    let _op = begin()?;
    let api = api()?;
    // SAFETY: a name of name.len() bytes; find_zone only reads the cycle's configuration.
    let zone = unsafe { (api.find_zone)(name.as_ptr(), name.len()) };
    if zone.is_null() {
        Err("no lua_shared_dict of that name in nginx.conf")
    } else {
        Ok(zone)
    }
}

fn check_key(key: &[u8]) -> Result<(), &'static str> {
    match key.len() {
        0 => Err("empty key"),
        n if n > 65535 => Err("key too long"),
        _ => Ok(()),
    }
}

/// A value read from a zone.
pub enum Value {
    Nil,
    Boolean(bool),
    Number(f64),
    /// A malloc()ed copy (the runtime frees it) and its length.
    String(*mut u8, usize),
}

/// Reads a key: its value and user flags (Nil when absent or expired).
///
/// # Safety
/// `zone` from [`find`].
pub unsafe fn get(zone: *mut c_void, key: &[u8]) -> Result<(Value, c_int), &'static str> {
    let _op = begin()?;
    let api = api()?;
    check_key(key)?;
    let mut small = [0u8; 256];
    let mut buf: *mut u8 = small.as_mut_ptr();
    let mut len: usize = small.len();
    let mut typ: c_int = TYPE_NIL;
    let mut num: c_double = 0.0;
    let mut flags: c_int = 0;
    let mut stale: c_int = 0;
    let mut err: *const c_char = std::ptr::null();
    // SAFETY: every out-pointer is ours; a value larger than `small` is malloc()ed by
    // lua-nginx-module into `buf`.
    let rc = unsafe {
        (api.get)(
            zone,
            key.as_ptr(),
            key.len(),
            &mut typ,
            &mut buf,
            &mut len,
            &mut num,
            &mut flags,
            0,
            &mut stale,
            &mut err,
        )
    };
    if rc != NGX_OK {
        // SAFETY: lua-nginx-module's messages are static strings.
        return Err(static_message(err).unwrap_or("shared dictionary get failed"));
    }
    let value = match typ {
        // lua-nginx-module writes a boolean as one byte into the buffer.
        // SAFETY: buf holds at least that byte (small is 256 bytes).
        TYPE_BOOLEAN => Value::Boolean(len > 0 && unsafe { *buf } != 0),
        TYPE_NUMBER => Value::Number(num),
        TYPE_STRING => {
            if buf == small.as_mut_ptr() {
                // SAFETY: a fresh malloc of at least one byte, filled from `small`.
                let copy = unsafe { libc::malloc(len.max(1)) }.cast::<u8>();
                if copy.is_null() {
                    return Err("no memory");
                }
                // SAFETY: len <= small.len() bytes were written into small.
                unsafe { std::ptr::copy_nonoverlapping(small.as_ptr(), copy, len) };
                Value::String(copy, len)
            } else {
                // lua-nginx-module malloc()ed it: the caller's to free.
                Value::String(buf, len)
            }
        }
        _ => Value::Nil,
    };
    Ok((value, flags))
}

/// lua-nginx-module's error message, which is always a static string.
fn static_message(err: *const c_char) -> Option<&'static str> {
    if err.is_null() {
        return None;
    }
    // SAFETY: lua-nginx-module sets errmsg to string literals only.
    unsafe { CStr::from_ptr(err) }.to_str().ok()
}

/// What a store or an incr achieved.
pub enum Stored {
    /// Done; `forcible`: valid items were evicted to make room.
    Done { forcible: bool },
    /// Not done, and why: "exists" (add), "not found" (replace, incr without init),
    /// "not a number" (incr).
    Declined(&'static str),
}

/// Stores a value (`TYPE_NIL` deletes) with `op`, an expiry in ms (0: never) and user flags.
///
/// # Safety
/// `zone` from [`find`]; `str` valid for `str_len` bytes when `typ` is `TYPE_STRING`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn store(
    zone: *mut c_void,
    op: c_int,
    key: &[u8],
    typ: c_int,
    str_value: &[u8],
    num: f64,
    exptime_ms: c_long,
    flags: c_int,
) -> Result<Stored, &'static str> {
    let _op = begin()?;
    let api = api()?;
    check_key(key)?;
    if ![TYPE_NIL, TYPE_BOOLEAN, TYPE_NUMBER, TYPE_STRING].contains(&typ) {
        return Err("bad value type");
    }
    if ![OP_SET, OP_ADD, OP_REPLACE, OP_SAFE_SET, OP_SAFE_ADD].contains(&op) {
        return Err("bad operation");
    }
    if exptime_ms < 0 {
        return Err("bad exptime");
    }
    let num = if typ == TYPE_BOOLEAN { f64::from(u8::from(num != 0.0)) } else { num };
    let mut err: *const c_char = std::ptr::null();
    let mut forcible: c_int = 0;
    // SAFETY: the zone and buffers as documented; out-pointers ours.
    let rc = unsafe {
        (api.store)(
            zone,
            op,
            key.as_ptr(),
            key.len(),
            typ,
            str_value.as_ptr(),
            str_value.len(),
            num,
            exptime_ms,
            flags,
            &mut err,
            &mut forcible,
        )
    };
    if rc == NGX_OK {
        return Ok(Stored::Done {
            forcible: forcible != 0,
        });
    }
    declined_or_error(rc, err, "shared dictionary store failed")
}

/// A failed store or incr: the answers about the key ("exists", "not found", "not a number",
/// which lua-nginx-module gives with NGX_DECLINED or NGX_ERROR alike) are `Declined`; the
/// rest ("no memory", ...) errors.
fn declined_or_error(rc: c_int, err: *const c_char, otherwise: &'static str) -> Result<Stored, &'static str> {
    let msg = static_message(err);
    match msg {
        Some(m @ ("exists" | "not found" | "not a number")) => Ok(Stored::Declined(m)),
        _ if rc == NGX_DECLINED => Ok(Stored::Declined(msg.unwrap_or("declined"))),
        _ => Err(msg.unwrap_or(otherwise)),
    }
}

/// Adds `delta` to a number; with `init`, a missing key starts at it (expiring after
/// `init_ttl_ms`, 0: never). The new value on success.
///
/// # Safety
/// `zone` from [`find`].
pub unsafe fn incr(
    zone: *mut c_void,
    key: &[u8],
    delta: f64,
    init: Option<f64>,
    init_ttl_ms: c_long,
) -> Result<(Stored, f64), &'static str> {
    let _op = begin()?;
    let api = api()?;
    check_key(key)?;
    if init_ttl_ms < 0 {
        return Err("bad init_ttl");
    }
    let mut value: c_double = delta;
    let mut err: *const c_char = std::ptr::null();
    let mut forcible: c_int = 0;
    // SAFETY: as above.
    let rc = unsafe {
        (api.incr)(
            zone,
            key.as_ptr(),
            key.len(),
            &mut value,
            &mut err,
            c_int::from(init.is_some()),
            init.unwrap_or(0.0),
            init_ttl_ms,
            &mut forcible,
        )
    };
    if rc == NGX_OK {
        return Ok((
            Stored::Done {
                forcible: forcible != 0,
            },
            value,
        ));
    }
    declined_or_error(rc, err, "shared dictionary incr failed").map(|d| (d, 0.0))
}

/// The time to live of a key in ms (0: it never expires); None: not found.
///
/// # Safety
/// `zone` from [`find`].
pub unsafe fn ttl(zone: *mut c_void, key: &[u8]) -> Result<Option<c_long>, &'static str> {
    let _op = begin()?;
    let api = api()?;
    check_key(key)?;
    // SAFETY: as above.
    let rc = unsafe { (api.get_ttl)(zone, key.as_ptr(), key.len()) };
    Ok((rc != NGX_DECLINED as c_long).then_some(rc))
}

/// Sets a key's expiry in ms (0: never); false: not found.
///
/// # Safety
/// `zone` from [`find`].
pub unsafe fn set_expire(zone: *mut c_void, key: &[u8], exptime_ms: c_long) -> Result<bool, &'static str> {
    let _op = begin()?;
    let api = api()?;
    check_key(key)?;
    if exptime_ms < 0 {
        return Err("bad exptime");
    }
    // SAFETY: as above.
    let rc = unsafe { (api.set_expire)(zone, key.as_ptr(), key.len(), exptime_ms) };
    Ok(rc != NGX_DECLINED)
}
