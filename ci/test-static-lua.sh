#!/usr/bin/env bash
# The whole t/ suite against an OpenResty-style nginx: ndk and lua-nginx-module compiled in
# statically, this module added with ./configure --add-dynamic-module (ci/build-static-nginx.sh).
# The only module loaded is that build's objs/ngx_http_resty_ffi_module.so; lua-resty-core
# comes from Debian's /usr/share/lua/5.1, which is on LuaJIT's default package.path (the
# `;;` in the suite's lua_package_path).
#
# Run by ci/test.sh after the main run (with its environment); alone, it sets up the same
# environment itself. Last line: the runner's `N passed, N failed`.
#
# Environment: RESTY_FFI_STATIC_PORT (default 1986), RESTY_FFI_STATIC_SERVROOT (default
# $RESTY_FFI_BUILD/servroot-static).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

if ! bash "$here/build-static-nginx.sh" >&2; then
    echo "not ok 1 - ci/build-static-nginx.sh failed"
    echo "0 passed, 1 failed"
    exit 1
fi
objs=$RESTY_FFI_BUILD/nginx-static/nginx/objs

if [ -z "${TEST_NGINX_LIB_DIR:-}" ]; then
    # Not under ci/test.sh: its environment, and the wings' services and variables.
    export TEST_NGINX_LUA_DIR=$REPO_ROOT/lua
    export TEST_NGINX_LIB_DIR=$LIB_DIR
    export TEST_NGINX_MODULES_DIR=$NGINX_MODULES_DIR
    export LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    for s in "$REPO_ROOT"/runtimes/*/test-env.sh; do
        [ -f "$s" ] || continue
        # shellcheck disable=SC1090
        . "$s" >&2
    done
fi

export TEST_NGINX_BINARY=$objs/nginx
export TEST_NGINX_LOAD_MODULES=$objs/ngx_http_resty_ffi_module.so
# The same as load_module lines, for tests that start an nginx of their own.
export TEST_NGINX_LOAD_MODULE_LINES="load_module $objs/ngx_http_resty_ffi_module.so;"
export TEST_NGINX_SERVER_PORT=${RESTY_FFI_STATIC_PORT:-1986}
export TEST_NGINX_SERVROOT=${RESTY_FFI_STATIC_SERVROOT:-$RESTY_FFI_BUILD/servroot-static}
unset TEST_NGINX_CLIENT_PORT TEST_NGINX_PORT

cd "$REPO_ROOT"
exec python3 tools/tnginx/tnginx.py t/
