//! Tells the crate which Python it links (PYO3_PYTHON, else python3 on PATH), so that the
//! embedded interpreter starts as that Python; adds an rpath to its libpython's directory.

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    let config = pyo3_build_config::get();
    let executable = config.executable().unwrap_or("python3");
    println!("cargo:rustc-env=RESTY_FFI_PYTHON_EXECUTABLE={executable}");
    pyo3_build_config::add_libpython_rpath_link_args();
}
