#!/usr/bin/env bash
# The whole test suite: setup, build, cargo test, then every t/*.t against a real nginx
# with the real module and runtimes. Uses Test::Nginx's prove when it is installed, else
# the project's runner for the same format (ci/tnginx.py). Ends with the runner's summary.
set -euo pipefail
here=$(dirname "$0")
# RESTY_FFI_QUICK=1 skips setup, build and cargo test (to rerun some .t files).
if [ -z "${RESTY_FFI_QUICK:-}" ]; then
    bash "$here/setup.sh"
    bash "$here/build.sh"
fi
. "$here/env.sh"
cd "$REPO_ROOT"

if [ -z "${RESTY_FFI_QUICK:-}" ]; then
    log "cargo test"
    out=$RESTY_FFI_BUILD/cargo-test.log
    if ! cargo test --release --workspace >"$out" 2>&1; then
        tail -n 40 "$out" >&2
        die "cargo test failed (full output: $out)"
    fi
    grep -E '^test result: .* [1-9][0-9]* passed' "$out" >&2 || true
fi

export TEST_NGINX_BINARY=$NGINX_BIN
export TEST_NGINX_LOAD_MODULES="$NGINX_MODULES_DIR/ndk_http_module.so $NGINX_MODULES_DIR/ngx_http_lua_module.so $MODULE_SO"
export TEST_NGINX_LUA_DIR=$REPO_ROOT/lua
export TEST_NGINX_LIB_DIR=$LIB_DIR
export TEST_NGINX_MODULES_DIR=$NGINX_MODULES_DIR
export LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# Components start their test services and export their TEST_NGINX_* variables here.
for s in "$REPO_ROOT"/ci/test.d/*.sh; do
    [ -f "$s" ] || continue
    # shellcheck disable=SC1090
    . "$s"
done

if [ $# -eq 0 ]; then set -- t/ ci/tnginx-selftest.t; fi
if [ -z "${RESTY_FFI_OWN_RUNNER:-}" ] && perl -MTest::Nginx::Socket::Lua -e1 2>/dev/null; then
    exec prove -r "$@"
fi
exec python3 "$REPO_ROOT/ci/tnginx.py" "$@"
