#!/usr/bin/env bash
# The Node.js wing's build step (run by ci/build.sh): the loader libffi_nodejs.so (loader/)
# into $LIB_DIR, and the test suite's N-API addon.
#
# It embeds Debian's libnode (Node 18). libnode108 and libnode-dev are not installed (on a
# machine whose `nodejs` comes from elsewhere, installing them would replace it): they are
# fetched with `apt-get download` and unpacked with `dpkg -x` into $RESTY_FFI_BUILD/libnode
# (headers for the build, libnode.so.108 for run time; libffi_nodejs.so has an rpath to it).
# Their library dependencies are in packages.txt. Set RESTY_FFI_LIBNODE_PREFIX
# to use another Node 18 prefix (e.g. /usr with libnode-dev installed) instead.
# Quiet and fast when nothing changed: the unpacked packages carry a version stamp.
set -euo pipefail
. "$(dirname "$0")/../../ci/env.sh"
WING=$REPO_ROOT/runtimes/nodejs

LIBNODE_ROOT=$RESTY_FFI_BUILD/libnode
LIBNODE_PACKAGES=(libnode108 libnode-dev)

candidate() {
    apt-cache policy libnode108 2>/dev/null | awk '/Candidate:/ {print $2}'
}

unpack_libnode() {
    local want have tmp
    have=$(cat "$LIBNODE_ROOT/.version" 2>/dev/null || true)
    want=$(candidate)
    if [ -z "$want" ] || [ "$want" = "(none)" ]; then
        # No package lists (a fresh container): keep what is unpacked, else fetch the lists.
        [ -n "$have" ] && return 0
        [ "$(id -u)" = 0 ] || die "nodejs: libnode108 unknown to apt (run apt-get update as root)"
        apt-get update -qq
        want=$(candidate)
        [ -n "$want" ] && [ "$want" != "(none)" ] || die "nodejs: no libnode108 package in this system's apt sources (Debian 12 has Node 18's)"
    fi
    [ "$have" = "$want" ] && return 0

    log "nodejs: unpacking libnode108 and libnode-dev $want into $LIBNODE_ROOT"
    tmp=$(mktemp -d "$RESTY_FFI_BUILD/libnode-dl.XXXXXX")
    chmod 755 "$tmp"   # apt's sandbox user writes the download here
    local pkgs=() p
    for p in "${LIBNODE_PACKAGES[@]}"; do pkgs+=("$p=$want"); done
    if ! (cd "$tmp" && apt-get download "${pkgs[@]}" >"$tmp/download.log" 2>&1) &&
        ! { [ "$(id -u)" = 0 ] && apt-get update -qq && want=$(candidate) && pkgs=() &&
            for p in "${LIBNODE_PACKAGES[@]}"; do pkgs+=("$p=$want"); done &&
            (cd "$tmp" && apt-get download "${pkgs[@]}" >"$tmp/download.log" 2>&1); }; then
        # (stale package lists name a version the mirror no longer has: updated and retried)
        cat "$tmp/download.log" >&2
        rm -rf "$tmp"
        die "nodejs: apt-get download ${pkgs[*]} failed"
    fi
    rm -rf "$LIBNODE_ROOT"
    mkdir -p "$LIBNODE_ROOT"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$LIBNODE_ROOT"; done
    rm -rf "$tmp"
    echo "$want" >"$LIBNODE_ROOT/.version"
}

if [ -z "${RESTY_FFI_LIBNODE_PREFIX:-}" ]; then
    mkdir -p "$RESTY_FFI_BUILD"
    unpack_libnode
    export RESTY_FFI_LIBNODE_PREFIX=$LIBNODE_ROOT/usr
fi
[ -f "$RESTY_FFI_LIBNODE_PREFIX/include/node/node.h" ] || die "nodejs: no include/node/node.h under $RESTY_FFI_LIBNODE_PREFIX"

cargo build --release --quiet --manifest-path "$WING/loader/Cargo.toml"
mkdir -p "$LIB_DIR"
so=$CARGO_TARGET_DIR/release/libffi_nodejs.so
cmp -s "$so" "$LIB_DIR/libffi_nodejs.so" || install -m 0755 "$so" "$LIB_DIR/libffi_nodejs.so"

# The test suite's native addon (t/050-nodejs.t): N-API, compiled against libnode's headers.
addon_src=$WING/test-runtimes/addon/hello.c
addon=$RESTY_FFI_BUILD/nodejs/hello.node
if [ ! -f "$addon" ] || [ "$addon_src" -nt "$addon" ]; then
    mkdir -p "$(dirname "$addon")"
    cc -shared -fPIC -O2 -Wall -I"$RESTY_FFI_LIBNODE_PREFIX/include/node" -o "$addon.tmp" "$addon_src" &&
        mv "$addon.tmp" "$addon" || die "nodejs: cannot build $addon_src"
fi
