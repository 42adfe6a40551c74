//! Compiles the C++ part (cpp/node_embed.cc, Node's embedder API) and links libnode.
//!
//! `RESTY_FFI_LIBNODE_PREFIX` is a prefix holding Node 18's headers (`include/node/node.h`)
//! and `libnode.so` (`lib/<multiarch>/` or `lib/`): by default Debian's libnode-dev and
//! libnode108 unpacked by runtimes/nodejs/build.sh into `$RESTY_FFI_BUILD/libnode/usr`, or
//! `/usr` where libnode-dev is installed. The library gets an rpath to libnode's directory
//! (after `$ORIGIN`, so a libnode.so.108 copied next to libffi_nodejs.so wins).

use std::env;
use std::path::{Path, PathBuf};

fn default_prefix() -> PathBuf {
    let build = env::var_os("RESTY_FFI_BUILD")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cache/resty-ffi")))
        .unwrap_or_else(|| PathBuf::from("/usr"));
    let unpacked = build.join("libnode/usr");
    if unpacked.join("include/node/node.h").exists() {
        unpacked
    } else {
        PathBuf::from("/usr")
    }
}

fn libnode_dir(prefix: &Path) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(arch) = env::var("CARGO_CFG_TARGET_ARCH") {
        let multiarch = match arch.as_str() {
            "x86_64" => "x86_64-linux-gnu",
            "aarch64" => "aarch64-linux-gnu",
            other => other,
        };
        candidates.push(prefix.join("lib").join(multiarch));
    }
    candidates.push(prefix.join("lib"));
    candidates.into_iter().find(|d| d.join("libnode.so").exists())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RESTY_FFI_LIBNODE_PREFIX");
    println!("cargo:rerun-if-env-changed=RESTY_FFI_BUILD");
    println!("cargo:rerun-if-changed=cpp/node_embed.cc");
    println!("cargo:rerun-if-changed=cpp/node_embed.h");

    let prefix = env::var_os("RESTY_FFI_LIBNODE_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(default_prefix);
    let include = prefix.join("include/node");
    if !include.join("node.h").exists() {
        panic!(
            "node.h not found in {}: run runtimes/nodejs/build.sh (it unpacks Debian's \
             libnode-dev) or set RESTY_FFI_LIBNODE_PREFIX to a prefix with include/node/node.h",
            include.display()
        );
    }
    let Some(lib_dir) = libnode_dir(&prefix) else {
        panic!("libnode.so not found under {}/lib", prefix.display());
    };
    println!(
        "cargo:rerun-if-changed={}",
        include.join("node_version.h").display()
    );

    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file("cpp/node_embed.cc")
        .include(&include)
        .include("cpp")
        .flag_if_supported("-Wno-unused-parameter")
        .compile("resty_node_embed");

    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=node");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:{}", lib_dir.display());
    println!("cargo:rustc-env=RESTY_FFI_LIBNODE_DIR={}", lib_dir.display());
}
