#!/usr/bin/env bash
# Part of ci/test.sh: go vet + go test for the Go SDK, the Go examples and the Go test
# runtime (the Go counterpart of cargo test). One result per Go module.
set -uo pipefail
. "$(dirname "$0")/../env.sh"

passed=0 failed=0
if ! command -v go >/dev/null; then
    echo "go not found: ci/build.d/20-go.sh installs it" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
for dir in sdk/go examples/go/echo examples/go/redis examples/go/fetch t/goruntime t/goruntime-raw; do
    out=$RESTY_FFI_BUILD/go-test-$(echo "$dir" | tr / -).log
    if (cd "$REPO_ROOT/$dir" && export GOFLAGS="-buildvcs=false -mod=readonly" GOTOOLCHAIN=local &&
        go vet ./... && go test ./...) >"$out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "go vet/test failed in $dir:" >&2
        tail -n 20 "$out" >&2
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
