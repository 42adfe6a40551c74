#!/usr/bin/env bash
# Part of ci/test.sh: cargo test of each loader still under loaders/ (each its own workspace,
# linked against its language's runtime: libjvm, libnode). Prints cargo's summaries and a
# closing "N passed, N failed" line.
set -uo pipefail
. "$(dirname "$0")/../env.sh"

# What the loaders' builds need to find their language (see ci/build.d/*.sh).
export RESTY_FFI_LIBNODE_PREFIX=${RESTY_FFI_LIBNODE_PREFIX:-$RESTY_FFI_BUILD/libnode/usr}

parts=()
for manifest in "$REPO_ROOT"/loaders/*/Cargo.toml; do
    parts+=("$(basename "$(dirname "$manifest")")=$manifest")
done
exec bash "$REPO_ROOT/ci/cargo-test-part.sh" "${parts[@]}"
