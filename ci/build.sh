#!/usr/bin/env bash
# Builds the module, the core test runtimes and every wing's runtimes into $RESTY_FFI_BUILD/lib.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ -f "$NGINX_BUILD_DIR/ngx_auto_config.h" ] || die "no configured nginx tree at $NGINX_BUILD_DIR (run ci/setup.sh)"

cd "$REPO_ROOT"
# One workspace: the module, the core suite's Rust runtime (t/runtimes/ffi_test) and the
# Rust wing's crates (runtimes/rust/build.sh installs those).
cargo build --release --workspace --quiet
mkdir -p "$LIB_DIR"
install -m 0755 "$CARGO_TARGET_DIR/release/libngx_http_resty_ffi_module.so" "$MODULE_SO"
install -m 0755 "$CARGO_TARGET_DIR/release/libffi_test.so" "$LIB_DIR/libffi_test.so"

# The core suite's runtime in plain C, as a C user writes one (t/016-unpin.t).
# It includes the ABI's one header, abi/resty_ffi.h, as C runtimes do.
cc -O2 -Wall -Werror -shared -fPIC -pthread -I abi -o "$LIB_DIR/libffi_c_test.so" t/runtimes/ffi_c_test/ffi_c_test.c

# Each wing (runtimes/<lang>/, see runtimes/README.md) builds its runtimes with its build.sh,
# in name order; each installs what nginx loads into $LIB_DIR.
for s in "$REPO_ROOT"/runtimes/*/build.sh; do
    [ -f "$s" ] || continue
    bash "$s" || die "build step failed: ${s#"$REPO_ROOT"/}"
done
