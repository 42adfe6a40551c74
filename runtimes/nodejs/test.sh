#!/usr/bin/env bash
# The Node.js wing's unit tests, a part of ci/test.sh: cargo test of the loader (cfg parsing,
# Node started and loading modules outside nginx). Last line: "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../ci/env.sh"

# The libnode the loader is built against (as build.sh unpacks it).
export RESTY_FFI_LIBNODE_PREFIX=${RESTY_FFI_LIBNODE_PREFIX:-$RESTY_FFI_BUILD/libnode/usr}
exec bash "$REPO_ROOT/ci/cargo-test-part.sh" "nodejs=$REPO_ROOT/runtimes/nodejs/loader/Cargo.toml"
