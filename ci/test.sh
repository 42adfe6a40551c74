#!/usr/bin/env bash
# The whole test suite: setup, build, cargo test, then every t/*.t against a real nginx
# with the real module and runtimes. Uses Test::Nginx's prove when it is installed, else
# the project's runner for the same format (tools/tnginx). Ends with the runner's summary.
set -euo pipefail
here=$(dirname "$0")
# RESTY_FFI_QUICK=1 skips setup, build and cargo test (to rerun some .t files).
# RESTY_FFI_SKIP_DEB=1 skips the package part (ci/test-deb.sh installs the .deb with apt in a
# mount namespace whose /etc, /usr and /var are throwaway overlays; one at a time per
# machine). Default: run it. Nothing in the suite writes the machine's /etc.
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
# The same modules as load_module lines, for tests that start an nginx of their own.
TEST_NGINX_LOAD_MODULE_LINES=
for m in $TEST_NGINX_LOAD_MODULES; do
    TEST_NGINX_LOAD_MODULE_LINES="$TEST_NGINX_LOAD_MODULE_LINES load_module $m;"
done
export TEST_NGINX_LOAD_MODULE_LINES
export TEST_NGINX_LUA_DIR=$REPO_ROOT/lua
export TEST_NGINX_LIB_DIR=$LIB_DIR
export TEST_NGINX_MODULES_DIR=$NGINX_MODULES_DIR
export LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The wings start their test services and export their TEST_NGINX_* variables.
for s in "$REPO_ROOT"/runtimes/*/test-env.sh; do
    [ -f "$s" ] || continue
    # shellcheck disable=SC1090
    . "$s"
done

# With file arguments: only those, against Debian's nginx.
if [ $# -gt 0 ]; then
    if [ -z "${RESTY_FFI_OWN_RUNNER:-}" ] && perl -MTest::Nginx::Socket::Lua -e1 2>/dev/null; then
        exec prove -r "$@"
    fi
    exec python3 "$REPO_ROOT/tools/tnginx/tnginx.py" "$@"
fi

# The whole suite. Each part ends with a line "N passed, N failed"; the sum is the last line.
passed=0 failed=0
run_part() {   # name, command...
    local name=$1 out line p f
    shift
    log "$name"
    out=$RESTY_FFI_BUILD/test-$name.log
    "$@" 2>&1 | tee "$out" | grep -v '^ok ' >&2 || true
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$line" ]; then
        log "$name: no summary line (see $out)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
}

run_part debian-nginx python3 "$REPO_ROOT/tools/tnginx/tnginx.py" t/ tools/tnginx/t/
run_part tnginx-unit python3 "$REPO_ROOT/tools/tnginx/tests/run.py"

# Each wing's own unit tests (runtimes/<lang>/test.sh), a part named <lang>-unit.
for s in "$REPO_ROOT"/runtimes/*/test.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$(dirname "$s")")-unit
    run_part "$name" bash "$s"
done

# The Debian package, end to end (installs it: needs root).
if [ -z "${RESTY_FFI_SKIP_DEB:-}" ]; then
    run_part deb bash "$REPO_ROOT/ci/test-deb.sh"
else
    log "deb: skipped (RESTY_FFI_SKIP_DEB)"
fi
# The whole t/ suite again, against an OpenResty-style nginx built with this module.
run_part static-lua bash "$REPO_ROOT/ci/test-static-lua.sh"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
