//! The options the JVM is created with: the class path and `JAVA_OPTS`.
//!
//! - The class path is resty-ffi.jar (the Java API, next to libffi_java.so) followed by
//!   `CLASSPATH`. Like the `java` launcher, an entry `dir/*` stands for every `.jar` in `dir`
//!   (the JVM itself does not expand wildcards).
//! - `JAVA_OPTS` is split on whitespace (no quoting). A `-Djava.class.path=` in it adds to the
//!   class path instead of replacing it.
//! - `-Xrs` always: the JVM leaves SIGHUP, SIGINT, SIGTERM and SIGQUIT to nginx.
//! - `-XX:-UsePerfData` unless `JAVA_OPTS` says otherwise: no /tmp/hsperfdata_<user>/<pid>
//!   file left behind by every worker (with -Xrs, jcmd cannot attach anyway).
//! - `-XX:+DisplayVMOutputToStderr` unless overridden: the JVM's own messages (start-up
//!   errors, -Xlog) go to stderr, which nginx points at its error log, not to stdout.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

/// The Java API's jar, installed next to libffi_java.so.
pub const API_JAR_NAME: &str = "resty-ffi.jar";

const CLASS_PATH_OPTION: &str = "-Djava.class.path=";

/// Where this library was loaded from, by asking the dynamic loader about one of its functions.
fn own_library_path() -> Result<PathBuf, String> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let here = own_library_path as *const c_void;
    // SAFETY: `here` is an address inside this library; `info` is a valid out-pointer.
    let found = unsafe { libc::dladdr(here, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return Err("cannot tell where libffi_java.so was loaded from (dladdr failed)".to_string());
    }
    // SAFETY: dladdr gives a NUL-terminated path owned by the dynamic loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    Ok(path.canonicalize().unwrap_or(path))
}

/// resty-ffi.jar beside libffi_java.so.
pub fn api_jar() -> Result<PathBuf, String> {
    let lib = own_library_path()?;
    let jar = lib.with_file_name(API_JAR_NAME);
    if jar.is_file() {
        Ok(jar)
    } else {
        Err(format!(
            "{} not found (it is installed next to {})",
            jar.display(),
            lib.display()
        ))
    }
}

/// One class path entry, with `dir/*` (or `*`) expanded to the jars in `dir`, sorted.
fn expand_entry(entry: &str, out: &mut Vec<String>) {
    let dir = if entry == "*" {
        Some(".")
    } else {
        entry.strip_suffix("/*")
    };
    let Some(dir) = dir else {
        out.push(entry.to_string());
        return;
    };
    let Ok(read) = std::fs::read_dir(if dir.is_empty() { "/" } else { dir }) else {
        return;
    };
    let mut jars: Vec<String> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jar")))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    jars.sort();
    out.extend(jars);
}

/// A `:`-separated class path with wildcards expanded and empty entries dropped.
pub fn expand_class_path(class_path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in class_path.split(':').filter(|e| !e.is_empty()) {
        expand_entry(entry, &mut out);
    }
    out
}

/// Defaults JAVA_OPTS may override.
const DEFAULT_OPTIONS: &[&str] = &["-XX:-UsePerfData", "-XX:+DisplayVMOutputToStderr"];

/// The JVM options for this worker: defaults, `JAVA_OPTS`, then the class path and `-Xrs`
/// (last, so they win over a duplicate in `JAVA_OPTS`).
pub fn jvm_options(api_jar: &Path, class_path_env: Option<&str>, java_opts_env: Option<&str>) -> Vec<String> {
    let mut class_path = vec![api_jar.to_string_lossy().into_owned()];
    class_path.extend(expand_class_path(class_path_env.unwrap_or("")));

    let mut options: Vec<String> = DEFAULT_OPTIONS.iter().map(|o| o.to_string()).collect();
    for opt in java_opts_env.unwrap_or("").split_ascii_whitespace() {
        match opt.strip_prefix(CLASS_PATH_OPTION) {
            Some(extra) => class_path.extend(expand_class_path(extra)),
            None => options.push(opt.to_string()),
        }
    }
    options.push(format!("{CLASS_PATH_OPTION}{}", class_path.join(":")));
    options.push("-Xrs".to_string());
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_path_starts_with_the_api_jar_and_ends_with_xrs() {
        let opts = jvm_options(
            Path::new("/lib/resty-ffi.jar"),
            Some("/a:/b/c.jar::"),
            Some("  -Xmx64m\t-Dx=1 "),
        );
        assert_eq!(
            opts,
            vec![
                "-XX:-UsePerfData",
                "-XX:+DisplayVMOutputToStderr",
                "-Xmx64m",
                "-Dx=1",
                "-Djava.class.path=/lib/resty-ffi.jar:/a:/b/c.jar",
                "-Xrs"
            ]
        );
    }

    #[test]
    fn class_path_in_java_opts_is_added() {
        let opts = jvm_options(Path::new("/r.jar"), None, Some("-Djava.class.path=/x:/y -Xss2m"));
        assert_eq!(
            opts,
            vec![
                "-XX:-UsePerfData",
                "-XX:+DisplayVMOutputToStderr",
                "-Xss2m",
                "-Djava.class.path=/r.jar:/x:/y",
                "-Xrs"
            ]
        );
    }

    #[test]
    fn wildcards_expand_to_sorted_jars() {
        let dir = std::env::temp_dir().join(format!("resty-ffi-cp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["b.jar", "a.JAR", "notes.txt"] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        let d = dir.to_string_lossy();
        let got = expand_class_path(&format!("{d}/*:/nonexistent/*:/plain"));
        assert_eq!(
            got,
            vec![format!("{d}/a.JAR"), format!("{d}/b.jar"), "/plain".to_string()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
