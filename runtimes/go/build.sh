#!/usr/bin/env bash
# The Go wing's build step (run by ci/build.sh): the Go runtimes, with cgo
# (-buildmode=c-shared), into $LIB_DIR:
#   examples/echo      -> libffi_go_echo.so
#   examples/redis     -> libffi_go_redis.so
#   examples/fetch     -> libffi_go_fetch.so   (net/http with the call's context)
#   examples/ratelimit -> libffi_go_ratelimit.so (rate-limit counters in a shared dict)
#   examples/tokens    -> libffi_go_tokens.so  (a stream of tokens: the SSE example)
#   examples/transform -> libffi_go_transform.so (a large body streamed back transformed)
#   test-runtimes/sdk  -> libffi_go_test.so   (the t/ suite's Go runtime, on the SDK)
#   test-runtimes/raw  -> libffi_go_raw.so    (raw cgo, no SDK, as lua-resty-ffi's Go examples)
# Needs Go >= 1.19 (Debian 12's golang-go). Go modules come from the module proxy, pinned
# by the committed go.sum files. A library whose sources, SDK (and abi/resty_ffi.h), go.mod/go.sum and Go
# version are unchanged since its last build is not rebuilt.
set -euo pipefail
. "$(dirname "$0")/../../ci/env.sh"
WING=$REPO_ROOT/runtimes/go

GO_MIN_MAJOR=1
GO_MIN_MINOR=19
GO_MIN=$GO_MIN_MAJOR.$GO_MIN_MINOR
GO_HINT="install Go >= $GO_MIN: Debian 12's golang-go (apt-get install golang-go), or a release from https://go.dev/dl unpacked into /usr/local/go"

# "1.19" / "go1.26.8" / "2:1.19~1" -> 0 if at least $GO_MIN.
go_version_ok() {
    local v=${1#*:}
    v=${v#go}
    local major=${v%%.*} rest=${v#*.}
    local minor=${rest%%[!0-9]*}
    [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
    (( major > GO_MIN_MAJOR || (major == GO_MIN_MAJOR && minor >= GO_MIN_MINOR) ))
}

install_debian_go() {
    [ "$(id -u)" = 0 ] || die "Go not found; $GO_HINT"
    command -v apt-get >/dev/null || die "Go not found; $GO_HINT"
    local candidate
    candidate=$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        apt-get update -qq
        candidate=$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ {print $2}')
    fi
    go_version_ok "$candidate" ||
        die "Go not found, and this system's golang-go ($candidate) is older than $GO_MIN; $GO_HINT"
    log "Go not found: installing Debian's golang-go $candidate"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
}

command -v go >/dev/null || install_debian_go
GO_VERSION=$(go env GOVERSION)
go_version_ok "$GO_VERSION" ||
    die "$GO_VERSION at $(command -v go) is too old for the Go runtimes (they need Go >= $GO_MIN); $GO_HINT"

# Reproducible and offline-safe: no VCS stamping, go.mod/go.sum as committed, no toolchain
# downloads, cgo on.
export GOFLAGS="-buildvcs=false -mod=readonly"
export GOTOOLCHAIN=local
export CGO_ENABLED=1

stamp_dir=$RESTY_FFI_BUILD/go
mkdir -p "$stamp_dir" "$LIB_DIR"

# Everything a library's build depends on, hashed.
inputs_hash() {
    {
        echo "$GO_VERSION $GOFLAGS ${CC:-cc}"
        find "$WING/sdk" "$REPO_ROOT/abi/resty_ffi.h" "$1" -type f \
            \( -name '*.go' -o -name '*.c' -o -name '*.h' -o -name go.mod -o -name go.sum \) \
            ! -name '*_test.go' -print0 | sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
}

build_runtime() {
    local src=$WING/$1 name=$2
    local so=$LIB_DIR/lib$name.so stamp=$stamp_dir/$name.stamp hash
    hash=$(inputs_hash "$src")
    if [ -f "$so" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
        return 0
    fi
    log "go build $1 -> $(basename "$so")"
    local tmp=$stamp_dir/lib$name.so
    (cd "$src" && go build -buildmode=c-shared -o "$tmp" .) ||
        die "go build failed in runtimes/go/$1 (Go modules come from the module proxy: check network access and GOPROXY)"
    install -m 0755 "$tmp" "$so"
    rm -f "$tmp" "${tmp%.so}.h"
    echo "$hash" >"$stamp"
}

build_runtime examples/echo ffi_go_echo
build_runtime examples/redis ffi_go_redis
build_runtime examples/fetch ffi_go_fetch
build_runtime examples/ratelimit ffi_go_ratelimit
build_runtime examples/tokens ffi_go_tokens
build_runtime examples/transform ffi_go_transform
build_runtime test-runtimes/sdk ffi_go_test
build_runtime test-runtimes/raw ffi_go_raw
