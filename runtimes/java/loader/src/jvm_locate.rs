//! Which `libjvm.so` to open.
//!
//! 1. `JAVA_HOME` in the worker's environment (nginx passes it only with `env JAVA_HOME;`
//!    or `env JAVA_HOME=/path;`). When it is set it must hold a JVM: no silent fallback.
//! 2. The JDK the loader was built with (`RESTY_FFI_JAVA_HOME` at build time, set by
//!    runtimes/java/build.sh).
//! 3. Debian's default JDK, then Debian's OpenJDK 17.

use std::path::{Path, PathBuf};

/// Where a JDK or JRE keeps libjvm.so (JDK 9 and later, then JDK 8's layout).
const LIBJVM_IN_JAVA_HOME: &[&str] = &[
    "lib/server/libjvm.so",
    "jre/lib/amd64/server/libjvm.so",
    "lib/client/libjvm.so",
];

const BUILT_WITH_JAVA_HOME: Option<&str> = option_env!("RESTY_FFI_JAVA_HOME");

const DEBIAN_JAVA_HOMES: &[&str] = &["/usr/lib/jvm/default-java", "/usr/lib/jvm/java-17-openjdk-amd64"];

fn libjvm_in(java_home: &Path) -> Option<PathBuf> {
    LIBJVM_IN_JAVA_HOME
        .iter()
        .map(|rel| java_home.join(rel))
        .find(|p| p.is_file())
}

/// The libjvm.so to open, given the worker's `JAVA_HOME` (if any).
pub fn libjvm_path(java_home_env: Option<&str>) -> Result<PathBuf, String> {
    if let Some(home) = java_home_env.filter(|h| !h.is_empty()) {
        return libjvm_in(Path::new(home)).ok_or_else(|| {
            format!(
                "JAVA_HOME={home} has no libjvm.so (looked for {})",
                LIBJVM_IN_JAVA_HOME.join(", ")
            )
        });
    }
    let candidates: Vec<&str> = BUILT_WITH_JAVA_HOME
        .into_iter()
        .chain(DEBIAN_JAVA_HOMES.iter().copied())
        .collect();
    candidates
        .iter()
        .find_map(|home| libjvm_in(Path::new(home)))
        .ok_or_else(|| {
            format!(
                "no JVM found in {}: install openjdk-17-jdk or set JAVA_HOME (with `env JAVA_HOME=...;` \
             in nginx.conf)",
                candidates.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_java_home_is_an_error_not_a_fallback() {
        let e = libjvm_path(Some("/nonexistent/jdk")).err().unwrap_or_default();
        assert!(e.contains("JAVA_HOME=/nonexistent/jdk has no libjvm.so"), "{e}");
    }

    #[test]
    fn java_home_layouts() {
        let dir = std::env::temp_dir().join(format!("resty-ffi-java-home-{}", std::process::id()));
        let lib = dir.join("jre/lib/amd64/server");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libjvm.so"), b"").unwrap();
        let found = libjvm_path(dir.to_str()).unwrap();
        assert_eq!(found, lib.join("libjvm.so"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
