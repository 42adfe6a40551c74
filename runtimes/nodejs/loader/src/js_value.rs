//! Small N-API helpers for code that runs on a Node thread inside a callback from Node.
//!
//! A `Js` is made from the `napi_env` Node passed to the running callback; it must not
//! outlive that callback nor leave its thread. Every helper turns a failed N-API status into
//! an error message.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use crate::napi::*;

pub type JsResult<T> = Result<T, String>;

#[derive(Clone, Copy)]
pub struct Js {
    env: napi_env,
}

fn check(status: napi_status, what: &str) -> JsResult<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(format!("{what} failed (napi status {status})"))
    }
}

impl Js {
    /// # Safety
    /// `env` is the live env of the callback running on this thread, used only during it.
    pub unsafe fn new(env: napi_env) -> Js {
        Js { env }
    }

    pub fn env(&self) -> napi_env {
        self.env
    }

    pub fn undefined(&self) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env (see `new`); `v` is written by N-API.
        check(
            unsafe { napi_get_undefined(self.env, &mut v) },
            "napi_get_undefined",
        )?;
        Ok(v)
    }

    pub fn null(&self) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; `v` is written by N-API.
        check(unsafe { napi_get_null(self.env, &mut v) }, "napi_get_null")?;
        Ok(v)
    }

    pub fn int(&self, i: i32) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; `v` is written by N-API.
        check(
            unsafe { napi_create_int32(self.env, i, &mut v) },
            "napi_create_int32",
        )?;
        Ok(v)
    }

    pub fn number(&self, x: f64) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; `v` is written by N-API.
        check(
            unsafe { napi_create_double(self.env, x, &mut v) },
            "napi_create_double",
        )?;
        Ok(v)
    }

    pub fn string(&self, s: &str) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; the bytes are valid UTF-8 of the given length.
        check(
            unsafe { napi_create_string_utf8(self.env, s.as_ptr().cast(), s.len(), &mut v) },
            "napi_create_string_utf8",
        )?;
        Ok(v)
    }

    /// A string, or undefined for None.
    pub fn opt_string(&self, s: Option<&str>) -> JsResult<napi_value> {
        match s {
            Some(s) => self.string(s),
            None => self.undefined(),
        }
    }

    pub fn bigint(&self, u: u64) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; `v` is written by N-API.
        check(
            unsafe { napi_create_bigint_uint64(self.env, u, &mut v) },
            "napi_create_bigint_uint64",
        )?;
        Ok(v)
    }

    /// A new Node Buffer holding a copy of `bytes`.
    pub fn buffer(&self, bytes: &[u8]) -> JsResult<napi_value> {
        let mut v = ptr::null_mut();
        let mut data = ptr::null_mut();
        // SAFETY: live env; `bytes` is readable for its length; N-API copies it.
        check(
            unsafe {
                napi_create_buffer_copy(self.env, bytes.len(), bytes.as_ptr().cast(), &mut data, &mut v)
            },
            "napi_create_buffer_copy",
        )?;
        Ok(v)
    }

    pub fn array(&self, items: &[napi_value]) -> JsResult<napi_value> {
        let mut a = ptr::null_mut();
        // SAFETY: live env; `a` is written by N-API.
        check(
            unsafe { napi_create_array_with_length(self.env, items.len(), &mut a) },
            "napi_create_array_with_length",
        )?;
        for (i, item) in items.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| "array too long".to_string())?;
            // SAFETY: live env; `a` and `item` are live values of this callback.
            check(
                unsafe { napi_set_element(self.env, a, index, *item) },
                "napi_set_element",
            )?;
        }
        Ok(a)
    }

    pub fn function(&self, name: &CStr, cb: napi_callback) -> JsResult<napi_value> {
        let mut f = ptr::null_mut();
        // SAFETY: live env; the name is NUL-terminated; `cb` catches its own panics.
        check(
            unsafe {
                napi_create_function(self.env, name.as_ptr(), AUTO_LENGTH, cb, ptr::null_mut(), &mut f)
            },
            "napi_create_function",
        )?;
        Ok(f)
    }

    pub fn set(&self, object: napi_value, name: &CStr, value: napi_value) -> JsResult<()> {
        // SAFETY: live env; live values; NUL-terminated name.
        check(
            unsafe { napi_set_named_property(self.env, object, name.as_ptr(), value) },
            "napi_set_named_property",
        )
    }

    pub fn type_of(&self, v: napi_value) -> JsResult<napi_valuetype> {
        let mut t = 0;
        // SAFETY: live env and value.
        check(unsafe { napi_typeof(self.env, v, &mut t) }, "napi_typeof")?;
        Ok(t)
    }

    pub fn is_nullish(&self, v: napi_value) -> JsResult<bool> {
        let t = self.type_of(v)?;
        Ok(t == NAPI_UNDEFINED || t == NAPI_NULL)
    }

    /// The first `N` arguments of the running call; missing ones are undefined.
    pub fn args<const N: usize>(&self, info: napi_callback_info) -> JsResult<[napi_value; N]> {
        let mut argv = [ptr::null_mut(); N];
        let mut argc = N;
        // SAFETY: live env and callback info; `argv` has room for `argc` values.
        check(
            unsafe {
                napi_get_cb_info(
                    self.env,
                    info,
                    &mut argc,
                    argv.as_mut_ptr(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            },
            "napi_get_cb_info",
        )?;
        Ok(argv)
    }

    /// A BigInt that fits a u64 exactly (task and queue handles).
    pub fn get_u64(&self, v: napi_value, what: &str) -> JsResult<u64> {
        let mut u = 0u64;
        let mut lossless = false;
        // SAFETY: live env and value; N-API checks the type.
        let status = unsafe { napi_get_value_bigint_uint64(self.env, v, &mut u, &mut lossless) };
        if status != NAPI_OK || !lossless {
            return Err(format!("{what}: a BigInt handle expected"));
        }
        Ok(u)
    }

    pub fn get_f64(&self, v: napi_value, what: &str) -> JsResult<f64> {
        let mut x = 0.0;
        // SAFETY: live env and value; N-API checks the type.
        if unsafe { napi_get_value_double(self.env, v, &mut x) } != NAPI_OK {
            return Err(format!("{what}: a number expected"));
        }
        Ok(x)
    }

    pub fn get_i32(&self, v: napi_value, what: &str) -> JsResult<i32> {
        let mut i = 0;
        // SAFETY: live env and value; N-API checks the type.
        if unsafe { napi_get_value_int32(self.env, v, &mut i) } != NAPI_OK {
            return Err(format!("{what}: a number expected"));
        }
        Ok(i)
    }

    /// The UTF-8 bytes of a JS string into `malloc()`ed memory with a NUL after them.
    pub fn string_to_malloc(&self, v: napi_value) -> JsResult<(*mut c_char, usize)> {
        let mut len = 0usize;
        // SAFETY: live env and value; a NULL buffer asks for the length only.
        check(
            unsafe { napi_get_value_string_utf8(self.env, v, ptr::null_mut(), 0, &mut len) },
            "napi_get_value_string_utf8",
        )?;
        // SAFETY: plain allocation; checked below.
        let buf = unsafe { libc::malloc(len + 1) }.cast::<c_char>();
        if buf.is_null() {
            return Err(format!("out of memory for a {len}-byte string"));
        }
        let mut written = 0usize;
        // SAFETY: `buf` has len + 1 bytes; N-API writes at most that, NUL included.
        let status = unsafe { napi_get_value_string_utf8(self.env, v, buf, len + 1, &mut written) };
        if status != NAPI_OK {
            // SAFETY: our own allocation, not handed out.
            unsafe { libc::free(buf.cast()) };
            return Err(format!(
                "napi_get_value_string_utf8 failed (napi status {status})"
            ));
        }
        Ok((buf, written))
    }

    pub fn get_string(&self, v: napi_value, what: &str) -> JsResult<String> {
        if self.type_of(v)? != NAPI_STRING {
            return Err(format!("{what}: a string expected"));
        }
        let (buf, len) = self.string_to_malloc(v)?;
        // SAFETY: `buf` holds `len` initialised bytes (valid UTF-8 from V8).
        let s = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) })
            .into_owned();
        // SAFETY: our own allocation.
        unsafe { libc::free(buf.cast()) };
        Ok(s)
    }

    /// The bytes of a Node Buffer (or any Uint8Array), valid while the value lives.
    pub fn buffer_bytes(&self, v: napi_value) -> JsResult<Option<(*const u8, usize)>> {
        let mut is_buffer = false;
        // SAFETY: live env and value.
        check(
            unsafe { napi_is_buffer(self.env, v, &mut is_buffer) },
            "napi_is_buffer",
        )?;
        if !is_buffer {
            return Ok(None);
        }
        let mut data: *mut c_void = ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: live env; `v` is a Buffer.
        check(
            unsafe { napi_get_buffer_info(self.env, v, &mut data, &mut len) },
            "napi_get_buffer_info",
        )?;
        Ok(Some((data.cast_const().cast(), len)))
    }

    pub fn call(&self, f: napi_value, args: &[napi_value]) -> JsResult<napi_value> {
        let recv = self.undefined()?;
        let mut result = ptr::null_mut();
        // SAFETY: live env; `f` and `args` are live values of this callback.
        let status = unsafe { napi_call_function(self.env, recv, f, args.len(), args.as_ptr(), &mut result) };
        if status == NAPI_OK {
            return Ok(result);
        }
        match self.take_exception() {
            Some(e) => Err(e),
            None => Err(format!("calling a JS function failed (napi status {status})")),
        }
    }

    /// Clears a pending JS exception and returns it as text.
    pub fn take_exception(&self) -> Option<String> {
        let mut pending = false;
        // SAFETY: live env.
        if unsafe { napi_is_exception_pending(self.env, &mut pending) } != NAPI_OK || !pending {
            return None;
        }
        let mut e = ptr::null_mut();
        // SAFETY: live env; an exception is pending.
        if unsafe { napi_get_and_clear_last_exception(self.env, &mut e) } != NAPI_OK {
            return Some("a JS exception".to_string());
        }
        let mut text = ptr::null_mut();
        // SAFETY: live env and value.
        if unsafe { napi_coerce_to_string(self.env, e, &mut text) } != NAPI_OK {
            // Coercion itself threw (a poisoned toString): drop that one too.
            let _ = self.take_exception();
            return Some("a JS exception that cannot be shown".to_string());
        }
        Some(self.get_string(text, "exception").unwrap_or_else(|e| e))
    }

    /// Throws a JS Error with `msg` (replacing NUL bytes).
    pub fn throw(&self, msg: &str) {
        let clean: Vec<u8> = msg
            .bytes()
            .map(|b| if b == 0 { b'?' } else { b })
            .chain([0])
            .collect();
        // SAFETY: live env; `clean` is NUL-terminated.
        unsafe { napi_throw_error(self.env, ptr::null(), clean.as_ptr().cast()) };
    }
}
