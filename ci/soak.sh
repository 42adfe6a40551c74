#!/usr/bin/env bash
# Soak test: SOAK_CALLS (1,000,000) calls of 512 bytes to the Rust echo runtime through one
# nginx worker, driven by `wrk -t2 -c64` on loopback; then the worker's RSS and live tasks.
#
#   bash ci/soak.sh
#
# The load runs in two wrk phases whose length is a call count, not a time: a wrk script
# stops each wrk thread after its share of responses (calls still in flight on its
# connections then are not counted), and SIGINT ends wrk once its threads are done. Phase 1 makes the first 10,000 calls
# (then RSS is read: the baseline, after LuaJIT, the task slab and malloc have warmed up),
# phase 2 the rest (then RSS and live tasks are read again, once the load has stopped).
#
# Environment:
#   SOAK_CALLS        total calls (default 1000000; at least 20000)
#   SOAK_PORT         listen port on 127.0.0.1 (default 20150)
#   SOAK_MAX_SECONDS  upper bound on each wrk phase (default 1800)
#   SOAK_DIR          nginx prefix, logs, wrk output (default $RESTY_FFI_BUILD/soak)
#   RESTY_FFI_QUICK=1 skip ci/setup.sh and ci/build.sh
#
# Exit status 0 when: every call was made and answered 200 with the 512 bytes back, RSS grew
# at most 5% from 10,000 calls to the end, live tasks are 0 after the load, and error.log has
# no [alert], [crit] or [emerg]. Everything the script starts is stopped on exit (trap).
set -euo pipefail
here=$(dirname "$0")
if [ -z "${RESTY_FFI_QUICK:-}" ]; then
    bash "$here/setup.sh"
    bash "$here/build.sh"
fi
. "$here/env.sh"

CALLS=${SOAK_CALLS:-1000000}
PORT=${SOAK_PORT:-20150}
MAX_SECONDS=${SOAK_MAX_SECONDS:-1800}
DIR=${SOAK_DIR:-$RESTY_FFI_BUILD/soak}
FIRST=10000
THREADS=2
CONNECTIONS=64
PAYLOAD=512
MAX_GROWTH_PCT=5

[[ $CALLS =~ ^[0-9]+$ ]] && [ "$CALLS" -ge $((2 * FIRST)) ] ||
    die "SOAK_CALLS must be an integer >= $((2 * FIRST))"
[[ $MAX_SECONDS =~ ^[1-9][0-9]*$ ]] || die "SOAK_MAX_SECONDS must be a positive integer"
command -v wrk >/dev/null || die "wrk not found (ci/packages.txt lists it: run ci/setup.sh)"
command -v curl >/dev/null || die "curl not found"
[ -f "$MODULE_SO" ] && [ -f "$LIB_DIR/libffi_echo.so" ] ||
    die "module or libffi_echo.so missing in $LIB_DIR (run ci/build.sh)"
if curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/" 2>/dev/null; then
    die "something already answers on 127.0.0.1:$PORT (set SOAK_PORT)"
fi

NGINX_PID=
WRK_PID=
stop_all() {
    if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then
        kill "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$NGINX_PID" 2>/dev/null; then
            log "nginx (pid $NGINX_PID) did not quit within 10 s: SIGKILL"
            kill -KILL "$NGINX_PID" 2>/dev/null || true
        fi
        wait "$NGINX_PID" 2>/dev/null || true
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

rm -rf "$DIR"
mkdir -p "$DIR/nginx/conf" "$DIR/nginx/logs"
# As root, the worker would run as nobody and could not read $LIB_DIR under root's home.
USER_LINE=
[ "$(id -u)" != 0 ] || USER_LINE="user root;"

cat >"$DIR/nginx/conf/nginx.conf" <<EOF
daemon off;
master_process on;
$USER_LINE
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
load_module $NGINX_MODULES_DIR/ndk_http_module.so;
load_module $NGINX_MODULES_DIR/ngx_http_lua_module.so;
load_module $MODULE_SO;
events { worker_connections 1024; }
http {
    access_log off;
    lua_package_path "$REPO_ROOT/lua/?.lua;;";
    lua_shared_dict soak 1m;
    init_worker_by_lua_block {
        require "resty_ffi"
        soak_payload = string.rep("p", $PAYLOAD)
    }
    server {
        listen 127.0.0.1:$PORT;
        location = /call {
            content_by_lua_block {
                local rt, err = ngx.load_ffi("$LIB_DIR/libffi_echo.so")
                if not rt then
                    ngx.log(ngx.ERR, "soak: load failed: ", err)
                    return ngx.exit(500)
                end
                local ok, res = rt:echo(soak_payload)
                if not ok or res ~= soak_payload then
                    ngx.log(ngx.ERR, "soak: bad answer: ", tostring(ok), " ", tostring(res))
                    return ngx.exit(500)
                end
                ngx.shared.soak:incr("calls", 1, 0)
                ngx.print("ok")
            }
        }
        location = /stats {
            content_by_lua_block {
                local f = assert(io.open("/proc/self/status"))
                local status = f:read("*a")
                f:close()
                ngx.say(status:match("VmRSS:%s*(%d+)"), " ",
                        require("resty_ffi").live_tasks(), " ", ngx.worker.pid(), " ",
                        ngx.shared.soak:get("calls") or 0)
            }
        }
    }
}
EOF

# Stops each wrk thread after SOAK_THREAD_CALLS responses, and notes that in SOAK_DONE_FILE.
cat >"$DIR/count.lua" <<'EOF'
local limit = tonumber(os.getenv("SOAK_THREAD_CALLS"))
local done_file = os.getenv("SOAK_DONE_FILE")
local seen = 0
function response(status, headers, body)
    seen = seen + 1
    if seen == limit then
        local f = io.open(done_file, "a")
        f:write("stopped\n")
        f:close()
        wrk.thread:stop()
    end
end
EOF

"$NGINX_BIN" -p "$DIR/nginx/" -c conf/nginx.conf >"$DIR/nginx/logs/stderr.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/stats" && break
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited at start: $(tail -n 5 "$DIR/nginx/logs/error.log" "$DIR/nginx/logs/stderr.log")"
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/call" || die "the first call failed (see $DIR/nginx/logs/error.log)"

# stats -> "rss_kib live_tasks worker_pid calls_answered_ok" (calls counted by nginx itself)
stats() { curl -sf -m 10 "http://127.0.0.1:$PORT/stats"; }

# run_phase NAME CALLS: wrk until about CALLS responses; sets PHASE_DONE, PHASE_SECS,
# PHASE_RPS, PHASE_NON2XX, PHASE_SOCKERR.
run_phase() {
    local name=$1 calls=$2 out=$DIR/wrk-$1.txt done_file=$DIR/wrk-$1.done
    rm -f "$done_file"
    SOAK_THREAD_CALLS=$(( (calls + THREADS - 1) / THREADS )) SOAK_DONE_FILE=$done_file \
        wrk -t$THREADS -c$CONNECTIONS -d"${MAX_SECONDS}s" -s "$DIR/count.lua" \
        "http://127.0.0.1:$PORT/call" >"$out" 2>&1 &
    WRK_PID=$!
    # wrk's main thread sleeps for the whole -d even when every thread has stopped: once
    # each thread has written its line, SIGINT ends the sleep and wrk prints its summary.
    while kill -0 "$WRK_PID" 2>/dev/null; do
        if [ -f "$done_file" ] && [ "$(wc -l <"$done_file")" -ge "$THREADS" ]; then
            sleep 0.05
            kill -INT "$WRK_PID" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    wait "$WRK_PID" || die "wrk failed in phase $name: $(cat "$out")"
    WRK_PID=
    local line
    line=$(grep -E '^ *[0-9]+ requests in ' "$out") || die "no 'requests in' line from wrk: $(cat "$out")"
    PHASE_DONE=$(awk '{print $1}' <<<"$line")
    PHASE_SECS=$(sed -E 's/.* requests in ([0-9.]+)(m?s|m|h),.*/\1 \2/' <<<"$line" |
        awk '{ v = $1; if ($2 == "ms") v /= 1000; else if ($2 == "m") v *= 60; else if ($2 == "h") v *= 3600; print v }')
    PHASE_RPS=$(awk '/^Requests\/sec:/ {print int($2)}' "$out")
    PHASE_NON2XX=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    PHASE_NON2XX=${PHASE_NON2XX:-0}
    PHASE_SOCKERR=$(sed -nE 's/.*Socket errors: (.*)/\1/p' "$out")
    PHASE_SOCKERR=${PHASE_SOCKERR:-none}
}

log "soak: $CALLS calls of $PAYLOAD B, wrk -t$THREADS -c$CONNECTIONS, nginx pid $NGINX_PID, port $PORT"
run_phase first "$FIRST"
done1=$PHASE_DONE rps1=$PHASE_RPS bad1=$PHASE_NON2XX err1=$PHASE_SOCKERR
sleep 0.5
read -r rss1 live1 wpid1 ok1 <<<"$(stats)"
[[ ${rss1:-} =~ ^[0-9]+$ && ${live1:-} =~ ^[0-9]+$ ]] || die "cannot read /stats after phase 1"

run_phase rest $((CALLS - done1))
done2=$PHASE_DONE secs2=$PHASE_SECS rps2=$PHASE_RPS bad2=$PHASE_NON2XX err2=$PHASE_SOCKERR
sleep 1
read -r rss2 live2 wpid2 ok2 <<<"$(stats)"
[[ ${rss2:-} =~ ^[0-9]+$ && ${live2:-} =~ ^[0-9]+$ ]] || die "cannot read /stats after phase 2"

total=$((done1 + done2))
growth=$(awk -v a="$rss1" -v b="$rss2" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }')
alerts=$(grep -cE '\[(alert|crit|emerg)\]' "$DIR/nginx/logs/error.log" || true)
errors=$(grep -c '\[error\]' "$DIR/nginx/logs/error.log" || true)

printf '\n== soak: %s calls of %s B to ffi_echo, wrk -t%s -c%s on loopback, one nginx worker\n' \
    "$total" "$PAYLOAD" "$THREADS" "$CONNECTIONS"
printf '%-26s %12s %12s %13s %11s %11s\n' "point" "calls (wrk)" "calls (ok)" "VmRSS (KiB)" \
    "live tasks" "worker pid"
printf '%-26s %12s %12s %13s %11s %11s\n' "after the first 10k calls" "$done1" "$ok1" "$rss1" \
    "$live1" "$wpid1"
printf '%-26s %12s %12s %13s %11s %11s\n' "at the end (load stopped)" "$total" "$ok2" "$rss2" \
    "$live2" "$wpid2"
echo "(calls (ok): answered with the 512 bytes back, counted by nginx; above wrk's count by the"
echo " script's first call and the calls in flight when wrk's threads stopped, up to $CONNECTIONS a phase)"
printf 'RSS growth: %s%% (limit %s%%)\n' "$growth" "$MAX_GROWTH_PCT"
printf 'throughput: %s req/s over the last %s calls (%s s); first phase %s req/s\n' \
    "$rps2" "$done2" "$(printf "%.2f" "$secs2")" "$rps1"
printf 'non-2xx answers: %s; wrk socket errors: %s / %s; error.log: %s [error], %s [alert|crit|emerg]\n' \
    "$((bad1 + bad2))" "$err1" "$err2" "$errors" "$alerts"

fail=()
[ "$total" -ge "$CALLS" ] || fail+=("only $total of $CALLS calls made within ${MAX_SECONDS}s per phase")
[ "${ok2:-0}" -ge "$CALLS" ] || fail+=("nginx counted only ${ok2:-0} good calls")
[ "$wpid1" = "$wpid2" ] || fail+=("the worker changed ($wpid1 -> $wpid2): it crashed or was replaced")
awk -v a="$rss1" -v b="$rss2" -v m="$MAX_GROWTH_PCT" 'BEGIN { exit !((b - a) * 100 > m * a) }' &&
    fail+=("RSS grew $growth% (more than $MAX_GROWTH_PCT%)")
[ "$live2" = 0 ] || fail+=("$live2 live task(s) after the load")
[ $((bad1 + bad2)) -eq 0 ] || fail+=("$((bad1 + bad2)) call(s) answered non-2xx (see $DIR/nginx/logs/error.log)")
[ "$alerts" -eq 0 ] || fail+=("$alerts [alert]/[crit]/[emerg] line(s) in $DIR/nginx/logs/error.log")
if [ ${#fail[@]} -gt 0 ]; then
    printf 'RESULT: FAIL: %s\n' "${fail[@]}"
    exit 1
fi
echo "RESULT: ok"
