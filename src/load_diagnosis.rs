//! Why a runtime library did not load, in words a user can act on.
//!
//! For a bare file name the dynamic linker searches several directories and, when a file it
//! found cannot be opened (say, the worker's user may not read it), still reports "No such
//! file or directory". So after a failed `dlopen` of a bare name the module looks at the
//! directories itself and says, for each file it finds, what is wrong with it: not readable
//! (errno), not an ELF file, the wrong ELF class, an executable instead of a shared library
//! (Go built without `-buildmode=c-shared`).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `LD_LIBRARY_PATH` as the process started with it: what the dynamic linker read. nginx
/// clears a worker's environment, but /proc/self/environ still shows the one it started with.
fn startup_library_path() -> Option<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let env = std::fs::read("/proc/self/environ").ok()?;
    env.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"LD_LIBRARY_PATH="))
        .map(|v| std::ffi::OsStr::from_bytes(v).to_os_string())
        .or_else(|| std::env::var_os("LD_LIBRARY_PATH"))
}

/// Where the dynamic linker looks for a bare name, besides its cache: `LD_LIBRARY_PATH` as
/// the process started with it, then the usual system directories.
fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = startup_library_path()
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let arch = format!("{}-linux-gnu", std::env::consts::ARCH);
    for d in ["/lib", "/usr/lib", "/usr/local/lib"] {
        dirs.push(Path::new(d).join(&arch));
        dirs.push(PathBuf::from(d));
    }
    dirs
}

const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const PT_DYNAMIC: u32 = 2;

/// What is wrong with `path` as a shared library to dlopen, if anything can be seen.
pub fn check_file(path: &Path) -> Option<String> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    let mut head = [0u8; 64];
    let n = f.read(&mut head).unwrap_or(0);
    if n < 20 || &head[..4] != ELF_MAGIC {
        return Some(format!("{}: not an ELF shared library", path.display()));
    }
    if head[4] != ELFCLASS64 {
        return Some(format!(
            "{}: a 32-bit library, this nginx is 64-bit",
            path.display()
        ));
    }
    let e_type = u16::from_le_bytes([head[16], head[17]]);
    let executable = format!(
        "{}: an executable, not a shared library (Go: build with -buildmode=c-shared)",
        path.display()
    );
    match e_type {
        ET_EXEC => Some(executable),
        // A position-independent executable is ET_DYN too: it has an interpreter.
        ET_DYN if has_program_header(&mut f, &head, PT_INTERP) && !is_libc_like(path) => Some(executable),
        ET_DYN if !has_program_header(&mut f, &head, PT_DYNAMIC) => Some(format!(
            "{}: no dynamic section: not a shared library",
            path.display()
        )),
        ET_DYN => None,
        _ => Some(format!(
            "{}: not a shared library (ELF type {e_type})",
            path.display()
        )),
    }
}

/// libc and the dynamic linker carry an interpreter and are libraries all the same.
fn is_libc_like(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("libc.so") || n.starts_with("ld-linux"))
}

fn has_program_header(f: &mut File, head: &[u8; 64], wanted: u32) -> bool {
    use std::io::{Seek, SeekFrom};
    let phoff = u64::from_le_bytes(head[32..40].try_into().unwrap_or([0; 8]));
    let phentsize = u64::from(u16::from_le_bytes([head[54], head[55]]));
    let phnum = u16::from_le_bytes([head[56], head[57]]).min(256);
    if phentsize < 4 || f.seek(SeekFrom::Start(phoff)).is_err() {
        return false;
    }
    let mut buf = vec![0u8; (phentsize * u64::from(phnum)) as usize];
    if f.read_exact(&mut buf).is_err() {
        return false;
    }
    buf.chunks(phentsize as usize)
        .any(|ph| u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == wanted)
}

/// For a bare file name that failed to load: what the module found in the search
/// directories ("" when it found nothing to say).
pub fn explain(file: &str) -> String {
    if file.contains('/') {
        return String::new();
    }
    let found: Vec<String> = search_dirs()
        .iter()
        .filter_map(|d| check_file(&d.join(file)))
        .collect();
    if found.is_empty() {
        return String::new();
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    format!(" (found: {}; nginx's worker runs as uid {uid})", found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_pass_and_executables_are_named() {
        let libc = std::fs::read_dir("/lib/x86_64-linux-gnu")
            .ok()
            .and_then(|mut d| d.find(|e| e.as_ref().is_ok_and(|e| e.file_name() == "libm.so.6")));
        if libc.is_some() {
            assert_eq!(check_file(Path::new("/lib/x86_64-linux-gnu/libm.so.6")), None);
        }
        let exe = check_file(Path::new("/bin/sh")).unwrap_or_default();
        assert!(exe.contains("an executable, not a shared library"), "{exe}");
        let text = check_file(Path::new("/etc/passwd")).unwrap_or_default();
        assert!(text.contains("not an ELF shared library"), "{text}");
        assert_eq!(check_file(Path::new("/nonexistent/libx.so")), None);
    }
}
