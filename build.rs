//! Build script of the module crate.
//!
//! The nginx bindings come from `nginx-sys`, which reads `NGINX_SOURCE_DIR` and
//! `NGINX_BUILD_DIR` (a configured nginx or OpenResty tree). This script only
//! adds what a dynamic module needs from the linker.

fn main() {
    println!("cargo:rerun-if-env-changed=NGINX_SOURCE_DIR");
    println!("cargo:rerun-if-env-changed=NGINX_BUILD_DIR");

    // nginx symbols are resolved when nginx loads the module, not at link time (the unit
    // tests get stand-ins: src/test_stubs.rs). ELF shared objects allow that by default.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
}
