#!/usr/bin/env bash
# `make install`: what nginx loads and what Lua requires, in system paths, world-readable, so a
# stock nginx.conf with nginx's default user (www-data, nobody) loads them:
#   $NGINX_MODULES_DIR/ngx_http_resty_ffi_module.so          (default /usr/lib/nginx/modules)
#   $PREFIX/share/lua/5.1/resty_ffi.lua, resty/ffi.lua, resty/ffi/metrics.lua
#   $PREFIX/include/resty_ffi.h
#   $PREFIX/lib/resty-ffi/: the loaders built here (libresty_ffi_python.so, libffi_java.so with
#       resty-ffi.jar beside it, libffi_nodejs.so with the libnode.so.108 it embeds, found
#       through its $ORIGIN runpath) and the example runtimes libffi_echo.so, libffi_argon2.so
#   $PREFIX/share/resty-ffi/java/: the Java examples echo.jar and http-client.jar (class path
#       entries for `env CLASSPATH=...;`)
# PREFIX defaults to /usr/local; DESTDIR stages everything under another root (packaging).
# Run after ci/build.sh. Prints the nginx.conf lines that use what it installed.
set -euo pipefail
. "$(dirname "$0")/env.sh"

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
MODDIR=${NGINX_MODULES_DIR:-/usr/lib/nginx/modules}
LIBDIR=$PREFIX/lib/resty-ffi
LUADIR=$PREFIX/share/lua/5.1
SHAREDIR=$PREFIX/share/resty-ffi

[ -f "$MODULE_SO" ] || die "no module at $MODULE_SO: run ci/build.sh first"

put() {   # source, destination (a file path under DESTDIR)
    install -D -m 0644 "$1" "$DESTDIR$2"
    printf '  %s\n' "$2"
}

log "installing into ${DESTDIR:-/} (PREFIX=$PREFIX)"
put "$MODULE_SO" "$MODDIR/ngx_http_resty_ffi_module.so"
put "$REPO_ROOT/lua/resty_ffi.lua" "$LUADIR/resty_ffi.lua"
put "$REPO_ROOT/lua/resty/ffi.lua" "$LUADIR/resty/ffi.lua"
put "$REPO_ROOT/lua/resty/ffi/metrics.lua" "$LUADIR/resty/ffi/metrics.lua"
put "$REPO_ROOT/abi/resty_ffi.h" "$PREFIX/include/resty_ffi.h"
for lib in libresty_ffi_python.so libffi_java.so resty-ffi.jar libffi_nodejs.so libffi_echo.so libffi_argon2.so; do
    [ -f "$LIB_DIR/$lib" ] && put "$LIB_DIR/$lib" "$LIBDIR/$lib"
done
if [ -f "$LIB_DIR/libffi_nodejs.so" ]; then
    # The Node.js loader embeds Debian's libnode (see runtimes/nodejs/build.sh): the copy it
    # was built with goes beside it, where its $ORIGIN runpath finds it.
    libnode=$(find "$RESTY_FFI_BUILD/libnode" -name 'libnode.so.108' 2>/dev/null | head -n 1)
    [ -n "$libnode" ] || libnode=$(ldconfig -p | awk '/libnode\.so\.108 / { print $NF; exit }')
    [ -n "$libnode" ] || die "libnode.so.108 not found (runtimes/nodejs/build.sh fetches it)"
    put "$(readlink -f "$libnode")" "$LIBDIR/libnode.so.108"
    # The loader's runpath also names the build's libnode directory: only $ORIGIN is kept.
    python3 "$REPO_ROOT/ci/elf-runpath.py" "$DESTDIR$LIBDIR/libffi_nodejs.so" '$ORIGIN' >/dev/null ||
        die "cannot set the runpath of $LIBDIR/libffi_nodejs.so"
fi
# The Java examples (runtimes/java/build.sh builds them): jars on the API, nothing else needed.
for jar in echo.jar http-client.jar; do
    [ -f "$RESTY_FFI_BUILD/java/$jar" ] && put "$RESTY_FFI_BUILD/java/$jar" "$SHAREDIR/java/$jar"
done
chmod 0755 "$DESTDIR$LIBDIR" "$DESTDIR$LUADIR/resty" "$DESTDIR$LUADIR/resty/ffi"
if [ -d "$DESTDIR$SHAREDIR/java" ]; then chmod 0755 "$DESTDIR$SHAREDIR" "$DESTDIR$SHAREDIR/java"; fi

cat >&2 <<CONF
[resty-ffi] in nginx.conf:
    load_module modules/ndk_http_module.so;         # Debian: include /etc/nginx/modules-enabled/*.conf;
    load_module modules/ngx_http_lua_module.so;
    load_module modules/ngx_http_resty_ffi_module.so;
    http {
        init_worker_by_lua_block {
            require("resty.ffi").set_library_path("$LIBDIR")   -- then load("resty_ffi_python", ...)
            require "resty_ffi"                                  -- ngx.load_ffi, for the original's code
        }
    }
    # Java: the examples' class path (and JAVA_HOME, if not the JDK the loader was built with)
    env CLASSPATH=$SHAREDIR/java/echo.jar;             # then load("ffi_java", "demo.echo.App,init,")
CONF
