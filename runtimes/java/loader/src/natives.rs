//! The native methods of `resty.ffi.Native`, registered when the JVM starts (RegisterNatives),
//! so the Java API needs no `System.loadLibrary` and no JNI symbol names.
//!
//! Each one is a thin call into the module's C ABI. The `native_method!` wrappers catch
//! panics and turn errors into Java exceptions.

use std::ffi::{c_char, c_int, c_void};

use jni::errors::{Error, JniError};
use jni::objects::{JByteArray, JClass, JLongArray};
use jni::sys::{jboolean, jint, jlong};
use jni::{jni_str, native_method, Env, NativeMethod};

use resty_ffi_sdk::raw;

const NATIVE_CLASS: &jni::strings::JNIStr = jni_str!("resty/ffi/Native");

/// Registers every native method of `resty.ffi.Native` (from resty-ffi.jar).
pub fn register(env: &mut Env) -> Result<(), Error> {
    let class = env.find_class(NATIVE_CLASS)?;
    let methods = [
        TASK_POLL,
        TASK_REQUEST,
        TASK_RESPOND,
        LOG,
        LOG_AVAILABLE,
        TASK_CANCELLED,
        TASK_TIME_LEFT,
        CANCEL_POLL,
        TASK_STREAMING,
        TASK_SEND,
    ];
    let methods: Vec<NativeMethod> = methods.into_iter().chain(crate::shdict_natives::METHODS).collect();
    // SAFETY: every NativeMethod comes from `native_method!`, which checks the Rust function
    // against the Java signature it registers.
    unsafe { env.register_native_methods(&class, &methods) }
}

/// Throws `java.lang.IllegalStateException(msg)`; the error tells the wrapper it is pending.
fn illegal_state(env: &mut Env, msg: &str) -> Error {
    match env.throw_new(
        jni_str!("java/lang/IllegalStateException"),
        jni::strings::JNIString::from(msg),
    ) {
        Err(e) => e,
        Ok(()) => Error::JavaException,
    }
}

fn api(env: &mut Env) -> Result<&'static raw::ModuleAbi, Error> {
    crate::module_abi().map_err(|msg| illegal_state(env, &msg))
}

const TASK_POLL: NativeMethod = native_method! {
    static fn task_poll(tq: jlong) -> jlong,
};

/// `static native long taskPoll(long tq)`: blocks until a task (its address) or 0 (unloaded).
fn task_poll<'local>(env: &mut Env<'local>, _class: JClass<'local>, tq: jlong) -> Result<jlong, Error> {
    let api = api(env)?;
    if tq == 0 {
        return Err(illegal_state(env, "task queue address is 0"));
    }
    // SAFETY: `tq` is the queue handed to libffi_init (Java passes it back unchanged); the
    // call blocks in native code, which the JVM allows (the thread is "in native").
    let task = unsafe { api.poll(tq as usize as *mut c_void) };
    Ok(task.map_or(0, |t| t as usize as jlong))
}

const TASK_REQUEST: NativeMethod = native_method! {
    static fn task_request(task: jlong) -> jbyte[],
};

/// `static native byte[] taskRequest(long task)`: a copy of the request bytes.
fn task_request<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    task: jlong,
) -> Result<JByteArray<'local>, Error> {
    let api = api(env)?;
    // SAFETY: `task` came from taskPoll and is not answered yet (resty.ffi.Task reads the
    // request once, before it can respond); the bytes are copied before this returns.
    let bytes = unsafe { api.request(task as usize as *mut c_void) }.unwrap_or_default();
    env.byte_array_from_slice(bytes).map_err(|e| match e {
        // jni catches the JVM's OutOfMemoryError and reports "JNI call failed": throw one again
        Error::JniCall(JniError::NoMemory) => out_of_memory(env, bytes.len()),
        e => e,
    })
}

/// Throws `java.lang.OutOfMemoryError` for a request that no byte[] can hold.
fn out_of_memory(env: &mut Env, len: usize) -> Error {
    let msg = format!("no heap for a request of {len} bytes");
    match env.throw_new(
        jni_str!("java/lang/OutOfMemoryError"),
        jni::strings::JNIString::from(msg),
    ) {
        Err(e) => e,
        Ok(()) => Error::JavaException,
    }
}

const TASK_RESPOND: NativeMethod = native_method! {
    static fn task_respond(task: jlong, rc: jint, rsp: jbyte[]),
};

/// `static native void taskRespond(long task, int rc, byte[] rsp)`: answers the task once.
/// `rsp` null gives nil in Lua; an empty array gives "".
fn task_respond<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    task: jlong,
    rc: jint,
    rsp: JByteArray<'local>,
) -> Result<(), Error> {
    let api = api(env)?;
    let task = task as usize as *mut c_void;
    if rsp.is_null() {
        // SAFETY: answering a live task once (resty.ffi.Task guarantees once) with no body.
        unsafe { api.respond_malloced(task, rc, std::ptr::null_mut(), 0) };
        return Ok(());
    }
    let answered = match rsp.len(env) {
        Ok(len) if len <= COPY_AT_MOST && api.copies_answers() => with_bytes(env, &rsp, len, |bytes| {
            // SAFETY: answering a live task once; the module copies the bytes.
            unsafe { api.respond_copied(task, rc, Some(bytes), resty_ffi_sdk::RC_NO_MEMORY) }
        }),
        // SAFETY: `buf` is malloc()ed and handed over to the module, which frees it.
        Ok(_) => copy_to_malloc(env, &rsp).map(|(buf, len)| unsafe { api.respond_malloced(task, rc, buf, len) }),
        Err(e) => Err(e),
    };
    if let Err(e) = answered {
        // The task must still be answered exactly once; report the failure in Lua too.
        let code = if rc == 0 { resty_ffi_sdk::RC_NO_MEMORY } else { rc };
        // SAFETY: answering the live task once, without a body.
        unsafe { api.respond_malloced(task, code, std::ptr::null_mut(), 0) };
        return Err(e);
    }
    Ok(())
}

/// Answers of up to this many bytes are read into a buffer of the thread's, kept from call to
/// call, and copied by the module (`respond_copy`): no `malloc` here and no `free` on the
/// worker's thread. Larger ones are handed over `malloc()`ed, one copy less.
const COPY_AT_MOST: usize = 16 * 1024;

thread_local! {
    /// The buffer of `with_bytes`.
    static SCRATCH: std::cell::RefCell<Vec<i8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with the array's `len` bytes, read into the thread's buffer.
fn with_bytes(env: &mut Env, rsp: &JByteArray, len: usize, f: impl FnOnce(&[u8])) -> Result<(), Error> {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        buf.clear();
        buf.resize(len, 0);
        rsp.get_region(env, 0, &mut buf[..])?;
        // SAFETY: i8 and u8 have one layout; `len` initialized bytes.
        f(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) });
        Ok(())
    })
}

/// The array's bytes in a malloc()ed buffer (at least one byte, NUL-terminated when empty, so
/// that an empty answer reads as "" and not nil).
fn copy_to_malloc(env: &mut Env, rsp: &JByteArray) -> Result<(*mut c_char, c_int), Error> {
    let len = rsp.len(env)?;
    let c_len = c_int::try_from(len).map_err(|_| illegal_state(env, "response longer than 2 GiB"))?;
    // SAFETY: malloc of at least one byte; checked for NULL below.
    let buf = unsafe { libc::malloc(len.max(1)) }.cast::<i8>();
    if buf.is_null() {
        return Err(illegal_state(env, "out of memory for the response"));
    }
    if len == 0 {
        // SAFETY: one byte was allocated.
        unsafe { *buf = 0 };
        return Ok((buf, 0));
    }
    // SAFETY: `buf` holds `len` bytes and nothing else refers to it.
    let dest = unsafe { std::slice::from_raw_parts_mut(buf, len) };
    if let Err(e) = rsp.get_region(env, 0, dest) {
        // SAFETY: our own allocation, not handed over.
        unsafe { libc::free(buf.cast()) };
        return Err(e);
    }
    Ok((buf, c_len))
}

const LOG: NativeMethod = native_method! {
    static fn log(level: jint, msg: jbyte[]),
};

/// `static native void log(int level, byte[] utf8)`: one line into nginx's error.log.
fn log<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    level: jint,
    msg: JByteArray<'local>,
) -> Result<(), Error> {
    if msg.is_null() {
        return Ok(());
    }
    let bytes = env.convert_byte_array(&msg)?;
    raw::log_bytes(level, &bytes);
    Ok(())
}

const LOG_AVAILABLE: NativeMethod = native_method! {
    static fn log_available() -> jboolean,
};

/// `static native boolean logAvailable()`: whether the module has its log function (else
/// messages go to stderr).
fn log_available<'local>(_env: &mut Env<'local>, _class: JClass<'local>) -> Result<jboolean, Error> {
    Ok(raw::logs_to_nginx())
}

const TASK_CANCELLED: NativeMethod = native_method! {
    static fn task_cancelled(task: jlong) -> jboolean,
};

/// `static native boolean taskCancelled(long task)`: whether the caller gave up on the task
/// (or the handle is no longer current).
fn task_cancelled<'local>(env: &mut Env<'local>, _class: JClass<'local>, task: jlong) -> Result<jboolean, Error> {
    let api = api(env)?;
    // SAFETY: the module only compares the handle (a stale one reads as cancelled).
    Ok(unsafe { api.task_cancelled(task as usize as *mut c_void) })
}

const TASK_TIME_LEFT: NativeMethod = native_method! {
    static fn task_time_left(task: jlong) -> jlong,
};

/// `static native long taskTimeLeft(long task)`: nanoseconds until the caller stops waiting
/// (0 once passed), or -1 for a call without a timeout.
fn task_time_left<'local>(env: &mut Env<'local>, _class: JClass<'local>, task: jlong) -> Result<jlong, Error> {
    let api = api(env)?;
    // SAFETY: as in task_cancelled.
    let Some(deadline) = (unsafe { api.task_deadline_ns(task as usize as *mut c_void) }) else {
        return Ok(-1);
    };
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to fill; CLOCK_MONOTONIC is the deadline's clock.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(illegal_state(env, "clock_gettime(CLOCK_MONOTONIC) failed"));
    }
    let now = i64::from(now.tv_sec).saturating_mul(1_000_000_000).saturating_add(i64::from(now.tv_nsec));
    Ok(deadline.saturating_sub(now).max(0))
}

const CANCEL_POLL: NativeMethod = native_method! {
    static fn cancel_poll(tq: jlong, out: jlong[]) -> jint,
};

/// `static native int cancelPoll(long tq, long[] out)`: blocks until tasks this runtime holds
/// are cancelled, stores their addresses in `out` and returns how many; 0 once unloaded.
fn cancel_poll<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    tq: jlong,
    out: JLongArray<'local>,
) -> Result<jint, Error> {
    let api = api(env)?;
    if tq == 0 {
        return Err(illegal_state(env, "task queue address is 0"));
    }
    if out.is_null() {
        return Err(illegal_state(env, "cancelPoll: no array"));
    }
    let len = out.len(env)?;
    if len == 0 {
        return Err(illegal_state(env, "cancelPoll: an empty array"));
    }
    let max = len.min(1024);
    let mut tasks = [std::ptr::null_mut::<c_void>(); 1024];
    // SAFETY: `tq` is the queue handed to libffi_init; the call blocks in native code, which
    // the JVM allows (the thread is "in native").
    let n = unsafe { api.cancel_poll(tq as usize as *mut c_void, &mut tasks[..max]) };
    let addresses: Vec<jlong> = tasks[..n].iter().map(|t| *t as usize as jlong).collect();
    out.set_region(env, 0, &addresses)?;
    Ok(n as jint)
}

const TASK_STREAMING: NativeMethod = native_method! {
    static fn task_streaming(task: jlong) -> jboolean,
};

/// `static native boolean taskStreaming(long task)`: whether the caller reads the task's
/// answer as a stream (`rt:stream_x(req)`).
fn task_streaming<'local>(_env: &mut Env<'local>, _class: JClass<'local>, task: jlong) -> Result<jboolean, Error> {
    // SAFETY: the module checks the handle (a stale one says 0).
    Ok(unsafe { raw::stream_abi().streaming(task as usize as *mut c_void) })
}

const TASK_SEND: NativeMethod = native_method! {
    static fn task_send(task: jlong, buf: jbyte[], off: jint, len: jint) -> jint,
};

/// `static native int taskSend(long task, byte[] buf, int off, int len)`: sends those bytes
/// as one chunk of a stream (copied), waiting while the caller's window is full: 0 sent,
/// `RC_CANCELLED` the caller stopped reading, -1 not a stream task in the runtime's hands.
/// resty.ffi.Task orders every send before its answer.
fn task_send<'local>(
    env: &mut Env<'local>,
    _class: JClass<'local>,
    task: jlong,
    buf: JByteArray<'local>,
    off: jint,
    len: jint,
) -> Result<jint, Error> {
    if buf.is_null() {
        return Err(illegal_state(env, "taskSend: no array"));
    }
    let total = buf.len(env)?;
    let (Ok(start), Ok(len)) = (usize::try_from(off), usize::try_from(len)) else {
        return Err(illegal_state(env, "taskSend: a negative offset or length"));
    };
    match start.checked_add(len) {
        Some(end) if end <= total => {}
        _ => return Err(illegal_state(env, "taskSend: the range is outside the array")),
    }
    let mut chunk = vec![0i8; len];
    if len > 0 {
        buf.get_region(env, off, &mut chunk)?;
    }
    // i8 and u8 have the same size and alignment: the bytes read as u8 unchanged.
    let bytes: Vec<u8> = chunk.into_iter().map(|b| b as u8).collect();
    // SAFETY: a task in the runtime's hands, answered only after this returns (the Java side
    // holds its send lock here and in respond); the call blocks in native code, which the
    // JVM allows.
    let sent = unsafe { raw::stream_abi().send(task as usize as *mut c_void, &bytes) };
    Ok(match sent {
        raw::Sent::Sent => 0,
        raw::Sent::WindowFull => 1,
        raw::Sent::Cancelled => raw::RC_CANCELLED,
        raw::Sent::NotStream => -1,
    })
}
