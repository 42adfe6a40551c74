#!/usr/bin/env bash
# The Python wing's unit tests, a part of ci/test.sh: cargo test of the loader (cfg parsing,
# the interpreter started outside nginx). Last line: "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../ci/env.sh"

# The Python the loader links (as build.sh builds it).
export PYO3_PYTHON=${RESTY_FFI_PYTHON:-/usr/bin/python3}
exec bash "$REPO_ROOT/ci/cargo-test-part.sh" "python=$REPO_ROOT/runtimes/python/loader/Cargo.toml"
