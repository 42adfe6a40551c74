//! Creating this worker's JVM (once: JNI allows one per process, and no second try).
//!
//! libjvm.so is opened at run time (never linked), so the loader builds without a JDK and any
//! JDK can be chosen with JAVA_HOME. JNI_CreateJavaVM is called directly (not through the jni
//! crate's invocation API) to pass JNI's "abort" hook, see `startup_abort`.

use std::ffi::{c_void, CString};
use std::path::Path;

use jni::sys::{jint, JavaVMInitArgs, JavaVMOption, JNI_FALSE, JNI_OK, JNI_VERSION_1_8};
use jni::{sys, JavaVM};

use crate::{jvm_locate, jvm_options, natives, startup_abort};

type CreateJavaVm =
    unsafe extern "system" fn(vm: *mut *mut sys::JavaVM, env: *mut *mut c_void, args: *mut c_void) -> jint;

fn jni_error_name(rc: jint) -> &'static str {
    match rc {
        sys::JNI_ERR => "JNI_ERR",
        sys::JNI_EDETACHED => "JNI_EDETACHED",
        sys::JNI_EVERSION => "JNI_EVERSION",
        sys::JNI_ENOMEM => "JNI_ENOMEM",
        sys::JNI_EEXIST => "JNI_EEXIST (a JVM already exists in this process)",
        sys::JNI_EINVAL => "JNI_EINVAL",
        _ => "unknown error",
    }
}

/// The options as they appear in messages: the class path is long, so it is counted.
fn describe_options(options: &[String]) -> String {
    options
        .iter()
        .map(|o| match o.strip_prefix("-Djava.class.path=") {
            Some(cp) => format!("-Djava.class.path=<{} entries>", cp.split(':').count()),
            None => o.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// dlopens libjvm.so for good and finds JNI_CreateJavaVM in it.
fn open_libjvm(libjvm: &Path) -> Result<CreateJavaVm, String> {
    let path = CString::new(libjvm.as_os_str().as_encoded_bytes())
        .map_err(|_| "libjvm path has a NUL byte".to_string())?;
    // SAFETY: a NUL-terminated path; libjvm's constructors are safe to run. The handle is
    // never closed: a JVM cannot be unloaded.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns NULL or a C string valid until the next dl call.
        let err = unsafe { libc::dlerror() };
        let why = if err.is_null() {
            "unknown error".to_string()
        } else {
            // SAFETY: see above.
            unsafe { std::ffi::CStr::from_ptr(err) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(format!("cannot load {}: {why}", libjvm.display()));
    }
    // SAFETY: a live handle and a NUL-terminated name.
    let sym = unsafe { libc::dlsym(handle, c"JNI_CreateJavaVM".as_ptr()) };
    if sym.is_null() {
        return Err(format!("{} has no JNI_CreateJavaVM", libjvm.display()));
    }
    // SAFETY: JNI_CreateJavaVM has this signature in every JDK.
    Ok(unsafe { std::mem::transmute::<*mut c_void, CreateJavaVm>(sym) })
}

/// Starts the JVM from `JAVA_HOME`, `CLASSPATH` and `JAVA_OPTS` of the worker's environment,
/// and registers the Java API's native methods. The calling thread becomes the JVM's first
/// thread and stays attached.
pub fn start() -> Result<JavaVM, String> {
    let env = |name: &str| std::env::var(name).ok();
    let libjvm = jvm_locate::libjvm_path(env("JAVA_HOME").as_deref())?;
    let api_jar = jvm_options::api_jar()?;
    let options =
        jvm_options::jvm_options(&api_jar, env("CLASSPATH").as_deref(), env("JAVA_OPTS").as_deref());
    let create = open_libjvm(&libjvm)?;

    let c_options = options
        .iter()
        .map(|o| CString::new(o.as_str()).map_err(|_| format!("JVM option with a NUL byte: {o:?}")))
        .collect::<Result<Vec<CString>, String>>()?;
    let mut raw_options: Vec<JavaVMOption> = c_options
        .iter()
        .map(|o| JavaVMOption {
            optionString: o.as_ptr().cast_mut(),
            extraInfo: std::ptr::null_mut(),
        })
        .collect();
    raw_options.push(JavaVMOption {
        optionString: c"abort".as_ptr().cast_mut(),
        extraInfo: startup_abort::abort_hook as *const () as *mut c_void,
    });
    let mut args = JavaVMInitArgs {
        version: JNI_VERSION_1_8,
        nOptions: raw_options.len() as jint,
        options: raw_options.as_mut_ptr(),
        ignoreUnrecognized: JNI_FALSE,
    };

    let mut raw_vm: *mut sys::JavaVM = std::ptr::null_mut();
    let mut raw_env: *mut c_void = std::ptr::null_mut();
    // SAFETY: args and every option string outlive the call; the out-pointers are valid.
    let rc = unsafe {
        create(
            &mut raw_vm,
            &mut raw_env,
            (&mut args as *mut JavaVMInitArgs).cast(),
        )
    };
    if rc != JNI_OK || raw_vm.is_null() {
        return Err(format!(
            "cannot start the JVM: JNI_CreateJavaVM returned {rc} ({}), see the JVM's message above \
             in error.log; libjvm: {}; options: {}",
            jni_error_name(rc),
            libjvm.display(),
            describe_options(&options)
        ));
    }
    // SAFETY: a JVM just created by JNI_CreateJavaVM, which also attached this thread.
    let vm = unsafe { JavaVM::from_raw(raw_vm) };
    drop(c_options);

    vm.attach_current_thread(natives::register).map_err(|e| {
        format!(
            "cannot register the native methods of resty.ffi.Native ({}): {e}",
            api_jar.display()
        )
    })?;
    Ok(vm)
}
