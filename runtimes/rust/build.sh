#!/usr/bin/env bash
# The Rust wing's build step (run by ci/build.sh): the Rust runtimes into $LIB_DIR:
#   examples/echo      -> libffi_echo.so
#   examples/argon2    -> libffi_argon2.so
#   test-runtimes/sdk  -> libffi_sdk_test.so   (the SDK under test, t/009)
# They are members of the root workspace, which ci/build.sh has just built (cargo build is
# then a no-op; run alone, this builds them).
set -euo pipefail
. "$(dirname "$0")/../../ci/env.sh"

cd "$REPO_ROOT"
cargo build --release --workspace --quiet
mkdir -p "$LIB_DIR"
for lib in ffi_echo ffi_argon2 ffi_sdk_test; do
    install -m 0755 "$CARGO_TARGET_DIR/release/lib$lib.so" "$LIB_DIR/lib$lib.so"
done
