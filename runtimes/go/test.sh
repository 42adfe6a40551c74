#!/usr/bin/env bash
# The Go wing's unit tests, a part of ci/test.sh: go vet + go test for the Go SDK, the Go
# examples and the Go test runtimes (the Go counterpart of cargo test). One result per Go
# module, then "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../ci/env.sh"
WING=$REPO_ROOT/runtimes/go

passed=0 failed=0
if ! command -v go >/dev/null; then
    echo "go not found: runtimes/go/build.sh installs it" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
for dir in sdk examples/echo examples/redis examples/fetch examples/ratelimit examples/tokens examples/transform test-runtimes/sdk test-runtimes/raw; do
    out=$RESTY_FFI_BUILD/go-test-$(echo "$dir" | tr / -).log
    if (cd "$WING/$dir" && export GOFLAGS="-buildvcs=false -mod=readonly" GOTOOLCHAIN=local &&
        go vet ./... && go test ./...) >"$out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "go vet/test failed in runtimes/go/$dir:" >&2
        tail -n 20 "$out" >&2
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
