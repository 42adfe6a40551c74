#!/usr/bin/env bash
# Part of ci/test.sh: cargo test of the Python loader (its own workspace, linked against
# Debian's libpython). Prints cargo's summary and a closing "N passed, N failed" line.
set -uo pipefail
. "$(dirname "$0")/../env.sh"
out=$RESTY_FFI_BUILD/python-unit.log
PYO3_PYTHON=/usr/bin/python3 cargo test --release --manifest-path "$REPO_ROOT/loaders/python/Cargo.toml" >"$out" 2>&1
rc=$?
grep -E '^test result' "$out" >&2
passed=$(grep -oE '[0-9]+ passed' "$out" | awk '{s += $1} END {print s + 0}')
failed=$(grep -oE '[0-9]+ failed' "$out" | awk '{s += $1} END {print s + 0}')
if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
    tail -n 30 "$out" >&2
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
