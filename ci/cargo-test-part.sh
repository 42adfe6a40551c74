#!/usr/bin/env bash
# `cargo test --release` of crates that are their own workspaces (the loaders, each linked
# against its language's runtime), as a part of ci/test.sh: cargo's summaries on stderr,
# then one closing "N passed, N failed" line (a build failure counts as one failed test).
#
# Usage: bash ci/cargo-test-part.sh NAME=MANIFEST...   (e.g. python=runtimes/python/loader/Cargo.toml)
set -uo pipefail
. "$(dirname "$0")/env.sh"

passed=0 failed=0
for arg in "$@"; do
    name=${arg%%=*}
    manifest=${arg#*=}
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
