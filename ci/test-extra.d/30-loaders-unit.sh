#!/usr/bin/env bash
# Part of ci/test.sh: cargo test of each loader under loaders/ (each its own workspace,
# linked against its language's runtime: libpython, libjvm, libnode). Prints cargo's
# summaries and a closing "N passed, N failed" line.
set -uo pipefail
. "$(dirname "$0")/../env.sh"

# What the loaders' builds need to find their language (see ci/build.d/*.sh).
export PYO3_PYTHON=${RESTY_FFI_PYTHON:-/usr/bin/python3}
export RESTY_FFI_LIBNODE_PREFIX=${RESTY_FFI_LIBNODE_PREFIX:-$RESTY_FFI_BUILD/libnode/usr}

passed=0 failed=0
for manifest in "$REPO_ROOT"/loaders/*/Cargo.toml; do
    name=$(basename "$(dirname "$manifest")")
    out=$RESTY_FFI_BUILD/loader-unit-$name.log
    cargo test --release --manifest-path "$manifest" >"$out" 2>&1
    rc=$?
    sed -n 's/^test result/'"$name"': test result/p' "$out" >&2
    p=$(grep -oE '[0-9]+ passed' "$out" | awk '{s += $1} END {print s + 0}')
    f=$(grep -oE '[0-9]+ failed' "$out" | awk '{s += $1} END {print s + 0}')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        tail -n 30 "$out" >&2
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
