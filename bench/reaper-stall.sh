#!/usr/bin/env bash
# Does handing back dirty semaphores (the worker's "reaper") stall the event loop?
# (issue 12, item 4; docs/bench.md, "Reaper stall").
#
#   bash bench/reaper-stall.sh
#   REAPER_MODULE_BEFORE=/path/to/old/ngx_http_resty_ffi_module.so bash bench/reaper-stall.sh
#
# For each N and round, a fresh one-worker nginx on 127.0.0.1:$REAPER_PORT runs one request
# (bench/lua/reaper_stall.lua) that leaves N dirty semaphores behind: N light threads call
# `hold` on ffi_test, are killed, the runtime is unloaded so all N answers arrive with nobody
# waiting; the request sends its response, then ends REAPER_DELAY_MS later, and freeing it
# hands the N semaphores to the reaper. Meanwhile bench/reaper_stall_client.py pings /ping
# (plain `return 200`) every ~1 ms and reports the /ping latency after the response arrived
# (max, p99) and the time from the request's end until /live says 0 live tasks; a run counts
# only if the tasks were seen live after the response and then reached 0 while pings ran.
#
# Environment:
#   REAPER_MODULE         the module to measure ("after"; default $MODULE_SO of ci/build.sh)
#   REAPER_MODULE_BEFORE  a second module to compare ("before"); rounds alternate the two
#   REAPER_LUA_DIR        lua/ matching REAPER_MODULE (default the checkout's lua/)
#   REAPER_LUA_DIR_BEFORE lua/ matching REAPER_MODULE_BEFORE (default REAPER_LUA_DIR)
#   REAPER_NS             "50000 100000 150000"   REAPER_ROUNDS  3 (the report takes medians)
#   REAPER_DELAY_MS       500 (response -> request end)   REAPER_PORT  20150 (20150..20159)
#   REAPER_NOTE           a line for the report (say which builds "before" and "after" are)
#   REAPER_RESULTS        the report (default bench/results/reaper-stall.md when
#                         REAPER_MODULE_BEFORE is set, else $RESTY_FFI_BUILD/bench-reaper/reaper-stall.md)
# Needs: Debian's nginx with libnginx-mod-http-lua, python3, curl, and ci/build.sh's
# libffi_test.so. Raw data: $RESTY_FFI_BUILD/bench-reaper/data.tsv; nginx log under nginx/logs.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"
. "$BENCH_DIR/lib.sh"

PORT=${REAPER_PORT:-20150}
NS=${REAPER_NS:-50000 100000 150000}
ROUNDS=${REAPER_ROUNDS:-3}
DELAY_MS=${REAPER_DELAY_MS:-500}
AFTER_SO=${REAPER_MODULE:-$MODULE_SO}
BEFORE_SO=${REAPER_MODULE_BEFORE:-}
AFTER_LUA=${REAPER_LUA_DIR:-$REPO_ROOT/lua}
BEFORE_LUA=${REAPER_LUA_DIR_BEFORE:-$AFTER_LUA}
WORK=$RESTY_FFI_BUILD/bench-reaper
PREFIX=$WORK/nginx
DATA=$WORK/data.tsv
if [ -n "$BEFORE_SO" ]; then
    RESULTS=${REAPER_RESULTS:-$BENCH_DIR/results/reaper-stall.md}
else
    RESULTS=${REAPER_RESULTS:-$WORK/reaper-stall.md}
fi
BASE_URL=http://127.0.0.1:$PORT
RUN_SECONDS=120   # bound of one client run

is_int "$PORT" && [ "$PORT" -ge 20150 ] && [ "$PORT" -le 20159 ] || die "REAPER_PORT must be in 20150..20159"
is_int "$ROUNDS" && [ "$ROUNDS" -le 20 ] || die "REAPER_ROUNDS must be 1..20"
[[ $DELAY_MS =~ ^[0-9]+$ ]] && [ "$DELAY_MS" -le 10000 ] || die "REAPER_DELAY_MS must be 0..10000"
for n in $NS; do
    is_int "$n" && [ "$n" -le 500000 ] || die "REAPER_NS: $n is not in 1..500000"
done
[ -f "$AFTER_SO" ] || die "no module at $AFTER_SO (bash ci/build.sh, or set REAPER_MODULE)"
[ -z "$BEFORE_SO" ] || [ -f "$BEFORE_SO" ] || die "no module at REAPER_MODULE_BEFORE=$BEFORE_SO"
[ -f "$AFTER_LUA/resty_ffi.lua" ] || die "no resty_ffi.lua in REAPER_LUA_DIR=$AFTER_LUA"
[ -z "$BEFORE_SO" ] || [ -f "$BEFORE_LUA/resty_ffi.lua" ] ||
    die "no resty_ffi.lua in REAPER_LUA_DIR_BEFORE=$BEFORE_LUA"
[ -f "$LIB_DIR/libffi_test.so" ] || die "no $LIB_DIR/libffi_test.so (bash ci/build.sh)"
for tool in python3 curl; do command -v "$tool" >/dev/null || die "$tool not found"; done
for m in ndk_http_module ngx_http_lua_module; do
    [ -f "$NGINX_MODULES_DIR/$m.so" ] || die "$NGINX_MODULES_DIR/$m.so missing (libnginx-mod-http-lua)"
done

NGINX_PID=
WORKER_PID=

stop_nginx() {
    stop_pid "$NGINX_PID"
    stop_pid "$WORKER_PID"
    NGINX_PID= WORKER_PID=
}
trap stop_nginx EXIT
trap 'exit 130' INT TERM

# Private copies, so a concurrent build or edit cannot swap a library or lua/ under a run.
mkdir -p "$WORK/lib" "$PREFIX/logs" "$PREFIX/conf"
rm -rf "$WORK/lua-after" "$WORK/lua-before"
install -m 0755 "$AFTER_SO" "$WORK/lib/module-after.so"
cp -r "$AFTER_LUA" "$WORK/lua-after"
if [ -n "$BEFORE_SO" ]; then
    install -m 0755 "$BEFORE_SO" "$WORK/lib/module-before.so"
    cp -r "$BEFORE_LUA" "$WORK/lua-before"
fi
install -m 0755 "$LIB_DIR/libffi_test.so" "$WORK/lib/libffi_test.so"

start_nginx() {   # variant
    cat >"$PREFIX/conf/nginx.conf" <<EOF
load_module $NGINX_MODULES_DIR/ndk_http_module.so;
load_module $NGINX_MODULES_DIR/ngx_http_lua_module.so;
load_module $WORK/lib/module-$1.so;

user $(id -un);
worker_processes 1;
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log warn;
env LD_LIBRARY_PATH;

events {
    worker_connections 1024;
}

http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    lua_package_path "$BENCH_DIR/lua/?.lua;$WORK/lua-$1/?.lua;;";
    lua_shared_dict reaper_stall 1m;

    init_worker_by_lua_block { require("resty_ffi") }

    server {
        listen 127.0.0.1:$PORT;
        default_type text/plain;

        location = /ping { return 200 "pong\n"; }
        location = /storm { content_by_lua_block { require("reaper_stall").storm() } }
        location = /live { content_by_lua_block { require("reaper_stall").live() } }
        location = /end { content_by_lua_block { require("reaper_stall").end_time() } }
        location = /pid { content_by_lua_block { ngx.say(ngx.worker.pid()) } }
    }
}
EOF
    LD_LIBRARY_PATH=$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        "$NGINX_BIN" -p "$PREFIX/" -c conf/nginx.conf 2>>"$PREFIX/logs/stderr.log" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        WORKER_PID=$(curl -s --max-time 2 "$BASE_URL/pid" 2>/dev/null || true)
        is_int "$WORKER_PID" && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited (see $PREFIX/logs/error.log)"
        WORKER_PID=
        sleep 0.1
    done
    die "nginx does not answer on $BASE_URL (see $PREFIX/logs/error.log)"
}

run_one() {   # variant n round
    local variant=$1 n=$2 round=$3 line problems
    start_nginx "$variant"
    line=$(timeout $((RUN_SECONDS + 30)) python3 "$BENCH_DIR/reaper_stall_client.py" \
        --port "$PORT" --n "$n" --delay-ms "$DELAY_MS" --max-seconds "$RUN_SECONDS" || true)
    stop_nginx
    problems=$(grep -cE '\[(alert|crit|emerg)\]' "$PREFIX/logs/error.log" || true)
    [ -n "$line" ] || line="error=no_output"
    log "$variant n=$n round $round: $line nginx_problems=$problems"
    # variant n round, then the client's words (those absent become "-")
    python3 - "$variant" "$n" "$round" "$problems" "$line" >>"$DATA" <<'PY'
import sys
variant, n, rnd, problems, line = sys.argv[1:6]
w = dict(x.split("=", 1) for x in line.split() if "=" in x)
keys = ["max_ms", "p99_ms", "p50_ms", "live0_ms", "window_pings", "storm_ms", "spawn_ms",
        "kill_ms", "answer_ms", "setup_max_ms", "end_after_eof_ms", "max_sent_after_end_ms",
        "reaped_after_eof"]
valid = "1" if w.get("reaped_after_eof") == "1" and "error" not in w and problems == "0" else "0"
print("\t".join([variant, n, rnd] + [w.get(k, "-") for k in keys] + [valid, w.get("error", "-")]))
PY
    : >"$PREFIX/logs/error.log"
}

variants=(after)
[ -z "$BEFORE_SO" ] || variants=(before after)

mkdir -p "$(dirname "$RESULTS")"
: >"$PREFIX/logs/error.log"
printf 'variant\tn\tround\tmax_ms\tp99_ms\tp50_ms\tlive0_ms\twindow_pings\tstorm_ms\tspawn_ms\tkill_ms\tanswer_ms\tsetup_max_ms\tend_after_eof_ms\tmax_sent_after_end_ms\treaped_after_eof\tvalid\terror\n' >"$DATA"
started=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "reaper stall: N = $NS, $ROUNDS round(s), variants: ${variants[*]}, port $PORT"
for round in $(seq "$ROUNDS"); do
    for n in $NS; do
        for variant in "${variants[@]}"; do
            run_one "$variant" "$n" "$round"
        done
    done
done
seconds=$(($(date +%s) - started))

python3 - "$DATA" "$RESULTS" "$seconds" "$loadavg_start" "$ROUNDS" "$DELAY_MS" \
    "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
    "$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')" \
    "$(md5sum <"$AFTER_SO" | cut -c1-12)" "$([ -z "$BEFORE_SO" ] || md5sum <"$BEFORE_SO" | cut -c1-12)" \
    "${REAPER_NOTE:-}" <<'PY'
import csv, statistics, sys, time
data, out, seconds, loadavg, rounds, delay, cores, cpu, nginx, after_md5, before_md5, note = sys.argv[1:13]
rows = list(csv.DictReader(open(data), delimiter="\t"))
variants = [v for v in ("before", "after") if any(r["variant"] == v for r in rows)]
ns = sorted({int(r["n"]) for r in rows})

def med(v, n, key):
    vals = [float(r[key]) for r in rows
            if r["variant"] == v and int(r["n"]) == n and r["valid"] == "1" and r[key] != "-"]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)

def fmt(x, digits):
    return "-" if x is None else f"{x:.{digits}f}"

head = ["N"]
for v in variants:
    head += [f"{v}: max /ping ms", f"{v}: p99 ms", f"{v}: live→0 ms"]
head += ["valid runs"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for n in ns:
    cells, counts = [f"{n:,}"], []
    for v in variants:
        mx, c = med(v, n, "max_ms")
        p99, _ = med(v, n, "p99_ms")
        l0, _ = med(v, n, "live0_ms")
        cells += [fmt(mx, 1), fmt(p99, 2), fmt(l0, 0)]
        counts.append(f"{v} {c}/{sum(1 for r in rows if r['variant'] == v and int(r['n']) == n)}")
    cells.append(", ".join(counts))
    lines.append("| " + " | ".join(cells) + " |")

setup = []
for n in ns:
    parts = []
    for v in variants:
        s, _ = med(v, n, "storm_ms")
        parts.append(f"{v} {fmt(s, 0)} ms")
    setup.append(f"N={n:,}: " + ", ".join(parts))

where = []
for n in ns:
    parts = []
    for v in variants:
        w, _ = med(v, n, "max_sent_after_end_ms")
        parts.append(f"{v} {fmt(w, 0)} ms")
    where.append(f"N={n:,}: " + ", ".join(parts))

modules = f"after: module md5 {after_md5}" + (f"; before: module md5 {before_md5}" if before_md5 else "")
text = f"""# Reaper stall: handing back N dirty semaphores (issue 12, item 4)

Run: `bash bench/reaper-stall.sh` on {time.strftime('%Y-%m-%d', time.gmtime())}, {cores} CPUs ({cpu}),
nginx {nginx}; load average at the start {loadavg}; {rounds} round(s), {seconds} s in all
({modules}).{(chr(10) + note) if note else ""}

One request spawns N light threads that each call `rt:x("hold y")` on ffi_test, kills them,
unloads the runtime (all N answers arrive, each posting a semaphore nobody waits on), sends
its response and ends {delay} ms later; freeing it makes the N semaphores dirty and the reaper
hands them back. A client pings `/ping` (`return 200`) on the same one-worker nginx every ~1 ms.
Columns: /ping latency over the pings sent after the response arrived (the request's end and
the reaping fall in that window; a run counts only if its tasks were seen live after the
response and reached 0 while the pings ran), and the time from the request's end until
`/live` reported 0 live tasks. Medians over the valid runs. The client has one /ping in
flight at a time, so a stall is one slow ping: max and live→0 show it, p99 hardly moves.

{chr(10).join(lines)}

The setup (spawn and kill N threads, unload: the storm request itself, before the window)
took, median: {'; '.join(setup)}.
The slowest /ping of the window was sent this long after the request's end (median; around 0
or below when it waited for the end of the request and the reaping): {'; '.join(where)}.
Raw data: `$RESTY_FFI_BUILD/bench-reaper/data.tsv`.
"""
open(out, "w").write(text)
print(text)
PY
log "report: $RESULTS"
