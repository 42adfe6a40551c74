#!/usr/bin/env bash
# Shared dictionaries, per operation (one run, one worker): a runtime thread's incr and get
# through the SDKs (the Rust SDK test runtime's and the Go test runtime's `shd bench`: N
# incrs, then N gets, in a loop on the thread serving the call) against Lua's own
# ngx.shared.DICT:incr / :get in a content handler.
#
#   bash bench/shdict.sh      # writes bench/results/shdict.md (BENCH_RESULTS_DIR to change)
#
# Environment: BENCH_SHDICT_N (operations per row, 1000000), BENCH_PORT (20150),
# BENCH_NO_BUILD=1 (use what is built).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"

N=${BENCH_SHDICT_N:-1000000}
PORT=${BENCH_PORT:-20150}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
PREFIX=$RESTY_FFI_BUILD/bench-shdict
[ -n "${BENCH_NO_BUILD:-}" ] || bash "$REPO_ROOT/ci/build.sh"

mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$RESULTS_DIR"
cat >"$PREFIX/conf/nginx.conf" <<CONF
load_module $NGINX_MODULES_DIR/ndk_http_module.so;
load_module $NGINX_MODULES_DIR/ngx_http_lua_module.so;
load_module $MODULE_SO;
user $(id -un);
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
env LD_LIBRARY_PATH;
events { worker_connections 64; }
http {
    access_log off;
    lua_shared_dict d 16m;
    lua_package_path "$REPO_ROOT/lua/?.lua;;";
    init_worker_by_lua_block { require "resty_ffi" }
    server {
        listen 127.0.0.1:$PORT;
        location = /ready { return 200; }
        location = /bench {
            content_by_lua_block {
                local n = tonumber(ngx.var.arg_n)
                local d = ngx.shared.d
                local function lua_ns(f)
                    ngx.update_time()
                    local t0 = ngx.now()
                    for _ = 1, n do f() end
                    ngx.update_time()
                    return math.floor((ngx.now() - t0) * 1e9 / n)
                end
                local incr = lua_ns(function() d:incr("lk", 1, 0) end)
                local get = lua_ns(function() d:get("lk") end)
                ngx.say("| Lua ngx.shared.DICT (content handler) | ", incr, " | ", get, " |")
                for _, r in ipairs({ { "Rust SDK SharedDict (runtime thread)", "ffi_sdk_test",
                                       [[{"mode":"pool","threads":1}]] },
                                     { "Go SDK restyffi.SharedDict (goroutine)", "ffi_go_test" } }) do
                    local rt = assert(ngx.load_ffi(r[2], r[3]))
                    local ok, res = rt:call("shd bench d " .. r[2] .. " " .. n, { timeout = 120000 })
                    assert(ok, res)
                    local i, g = res:match("incr=(%d+) get=(%d+)")
                    ngx.say("| ", r[1], " | ", i, " | ", g, " |")
                end
            }
        }
    }
}
CONF
LD_LIBRARY_PATH=$LIB_DIR "$NGINX_BIN" -p "$PREFIX/" -c conf/nginx.conf
trap '"$NGINX_BIN" -p "$PREFIX/" -c conf/nginx.conf -s stop 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" && break; sleep 0.1; done
rows=$(curl -sS --max-time 300 "http://127.0.0.1:$PORT/bench?n=$N")
{
    echo "# Shared dictionaries: ns per operation ($(date -u +%Y-%m-%d), $(nproc) CPUs, one run)"
    echo
    echo "bench/shdict.sh, $N operations per row on one key, one nginx worker: Lua's own"
    echo "ngx.shared.DICT in a content handler, and a runtime's thread through its SDK"
    echo "(the module's ngx_http_resty_ffi_shdict_* functions, the zone's lock each time)."
    echo
    echo "| caller | incr ns/op | get ns/op |"
    echo "|---|---:|---:|"
    echo "$rows"
} >"$RESULTS_DIR/shdict.md"
cat "$RESULTS_DIR/shdict.md"
