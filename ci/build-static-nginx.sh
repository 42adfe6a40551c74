#!/usr/bin/env bash
# An OpenResty-style nginx: Debian's nginx source with the ndk and lua-nginx-module compiled
# in statically (as OpenResty does), LuaJIT from libluajit2-5.1-dev (OpenResty's branch), and
# this repository added with `./configure --add-dynamic-module=<repo>` (the root config file).
#
#   $RESTY_FFI_BUILD/nginx-static/nginx/objs/nginx                          the binary
#   $RESTY_FFI_BUILD/nginx-static/nginx/objs/ngx_http_resty_ffi_module.so  the module
#
# The sources are Debian's source packages of the installed nginx, libnginx-mod-http-lua
# and libnginx-mod-http-ndk (lua-nginx-module must match the installed lua-resty-core),
# fetched with `apt-get source --download-only` and unpacked with dpkg-source, which applies
# Debian's patches. When apt-get source fails, a deb-src entry for this system's Debian mirror
# is added (if not there yet) as /etc/apt/sources.list.d/resty-ffi-deb-src.sources
# (ci/deb-src.py), apt-get update runs, and it tries again. If the mirror no longer has the
# installed nginx's exact source, the newest source of the same upstream version is used.
#
# Cached: the sources are fetched once per set of versions, configure runs again only when
# its inputs change (versions, flags, libraries, the repo's config files), and `make` (which
# runs cargo) rebuilds only what changed. Quiet; logs under $RESTY_FFI_BUILD/nginx-static.
#
# Environment: RESTY_FFI_JOBS (make -j, default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

STATIC=$RESTY_FFI_BUILD/nginx-static
SOURCES=$STATIC/sources
NGINX_TREE=$STATIC/nginx
DEB_SRC_LIST=/etc/apt/sources.list.d/resty-ffi-deb-src.sources
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
# lua-nginx-module's config finds LuaJIT here (Debian's libluajit2-5.1-dev).
export LUAJIT_LIB=/usr/lib/$MULTIARCH
export LUAJIT_INC=/usr/include/luajit-2.1
# The crate is built at make time against this tree: keep its cargo artifacts apart from
# the Debian-nginx build's (nginx-sys's bindings depend on the tree).
export CARGO_TARGET_DIR=$STATIC/cargo-target

# lua-nginx-module 0.10.23 uses the PCRE1 API (pcre.h; PCRE2 came in 0.10.26), so nginx
# uses PCRE1 too (--without-pcre2), as OpenResty did before it supported PCRE2. The other
# modules are those the t/ suite and Debian's nginx build commonly need. --with-compat: the
# module's signature matches other --with-compat builds of this nginx version.
CONFIGURE_FLAGS=(
    --prefix="$STATIC/prefix"
    --with-compat --with-threads --with-debug
    --with-pcre-jit --without-pcre2
    --with-http_ssl_module --with-http_v2_module --with-http_realip_module
    --with-http_stub_status_module --with-http_auth_request_module
)
# Build dependencies: ci/packages.txt (installed by ci/setup.sh).

source_of() {   # binary package -> "source=version" of its installed version
    dpkg-query -W -f='${source:Package}=${source:Version}' "$1" 2>/dev/null ||
        die "$1 is not installed (run ci/setup.sh)"
}

apt_source() {   # source=version: download into $SOURCES; 0 on success
    (cd "$SOURCES" && apt-get source --download-only -qq "$1" >>"$STATIC/apt-source.log" 2>&1)
}

refresh_deb_src() {   # our deb-src entry when none works, then apt-get update
    [ "$(id -u)" = 0 ] || die "apt-get source failed and only root can add a deb-src entry and run apt-get update (ci/deb-src.py prints one)"
    if [ ! -f "$DEB_SRC_LIST" ]; then
        log "adding $DEB_SRC_LIST (deb-src for Debian's mirror)"
        python3 "$here/deb-src.py" >"$DEB_SRC_LIST.tmp" || { rm -f "$DEB_SRC_LIST.tmp"; die "ci/deb-src.py failed"; }
        mv "$DEB_SRC_LIST.tmp" "$DEB_SRC_LIST"
    fi
    apt-get update -qq >>"$STATIC/apt-source.log" 2>&1 || die "apt-get update failed (see $STATIC/apt-source.log)"
}

fetch() {   # source=version [fallback: any version with this upstream prefix]
    local want=$1 upstream=${2:-} pkg=${1%%=*} v
    apt_source "$want" && { echo "$want"; return; }
    refresh_deb_src
    apt_source "$want" && { echo "$want"; return; }
    if [ -n "$upstream" ]; then
        # Newest first; the mirror may have dropped the installed revision's source.
        for v in $(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -u | sort -rV); do
            case "$v" in "$upstream"*) ;; *) continue ;; esac
            [ "$pkg=$v" = "$want" ] && continue
            if apt_source "$pkg=$v"; then
                log "note: the source of $want is not on the mirror; using $pkg=$v"
                echo "$pkg=$v"
                return
            fi
        done
    fi
    die "apt-get source $want failed (see $STATIC/apt-source.log)"
}

unpack() {   # source=version -> $STATIC/src-<source package>
    local pkg=${1%%=*} v=${1#*=} dsc dir
    v=${v#*:}   # no epoch in file names
    dsc=$SOURCES/${pkg}_$v.dsc
    dir=$STATIC/src-$pkg
    [ -f "$dsc" ] || die "$dsc missing after apt-get source"
    rm -rf "$dir"
    # apt verified the files against the signed Sources index; dpkg-source applies
    # debian/patches (format 3.0 (quilt)).
    dpkg-source --no-check -q -x "$dsc" "$dir" >>"$STATIC/apt-source.log" 2>&1 ||
        die "dpkg-source -x $dsc failed (see $STATIC/apt-source.log)"
}

mkdir -p "$STATIC" "$SOURCES"
command -v dpkg-source >/dev/null || die "dpkg-source not found (apt-get install dpkg-dev; ci/setup.sh does it)"

# 1. Sources, once per set of installed versions.
nginx_want=$(source_of nginx)
lua_want=$(source_of libnginx-mod-http-lua)
ndk_want=$(source_of libnginx-mod-http-ndk)
wanted="$nginx_want $lua_want $ndk_want"
if [ "$(cat "$STATIC/sources.stamp" 2>/dev/null | head -n 1)" != "$wanted" ] ||
    [ ! -d "$STATIC/src-nginx" ] || [ ! -d "$STATIC/src-libnginx-mod-http-lua" ] ||
    [ ! -d "$STATIC/src-libnginx-mod-http-ndk" ]; then
    log "static nginx: fetching Debian sources: $wanted"
    rm -rf "$SOURCES" "$STATIC"/src-* "$NGINX_TREE" "$STATIC/configure.stamp"
    mkdir -p "$SOURCES"
    : >"$STATIC/apt-source.log"
    upstream=${nginx_want#*=}
    upstream=${upstream%-*}-
    nginx_got=$(fetch "$nginx_want" "$upstream")
    lua_got=$(fetch "$lua_want")
    ndk_got=$(fetch "$ndk_want")
    unpack "$nginx_got"
    unpack "$lua_got"
    unpack "$ndk_got"
    printf '%s\n%s\n' "$wanted" "$nginx_got $lua_got $ndk_got" >"$STATIC/sources.stamp"
fi
NGX_SRC=$STATIC/src-nginx
LUA_SRC=$STATIC/src-libnginx-mod-http-lua
NDK_SRC=$STATIC/src-libnginx-mod-http-ndk

# 2. Configure, when an input changed: a fresh copy of the nginx tree (stale objects
#    compiled with other flags must not survive).
configure_inputs() {
    sed -n 2p "$STATIC/sources.stamp"
    printf '%s\n' "${CONFIGURE_FLAGS[@]}" "$REPO_ROOT" "$LUAJIT_LIB" "$LUAJIT_INC"
    dpkg-query -W -f='${Package} ${Version}\n' libluajit2-5.1-dev libpcre3-dev libssl-dev zlib1g-dev 2>/dev/null
    cc --version | head -n 1
    cat "$REPO_ROOT/config" "$REPO_ROOT/config.make"
}
want_configured=$(configure_inputs | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STATIC/configure.stamp" 2>/dev/null)" != "$want_configured" ] ||
    [ ! -f "$NGINX_TREE/objs/Makefile" ]; then
    log "static nginx: configure (ndk and lua-nginx-module static, resty-ffi dynamic)"
    rm -rf "$NGINX_TREE" "$STATIC/configure.stamp"
    cp -a "$NGX_SRC" "$NGINX_TREE"
    (
        cd "$NGINX_TREE"
        ./configure "${CONFIGURE_FLAGS[@]}" \
            --add-module="$NDK_SRC" --add-module="$LUA_SRC" \
            --add-dynamic-module="$REPO_ROOT" >"$STATIC/configure.log" 2>&1
    ) || { tail -n 20 "$STATIC/configure.log" >&2; die "configure failed (see $STATIC/configure.log)"; }
    echo "$want_configured" >"$STATIC/configure.stamp"
fi

# 3. make: nginx's own dependency tracking, and cargo's for the module (runs every time,
#    a no-op when nothing changed).
if ! make -C "$NGINX_TREE" -j"${RESTY_FFI_JOBS:-2}" >"$STATIC/make.log" 2>&1; then
    grep -E 'error|Error' "$STATIC/make.log" | tail -n 20 >&2
    die "make failed (see $STATIC/make.log)"
fi
[ -x "$NGINX_TREE/objs/nginx" ] && [ -f "$NGINX_TREE/objs/ngx_http_resty_ffi_module.so" ] ||
    die "make did not produce objs/nginx and objs/ngx_http_resty_ffi_module.so"
