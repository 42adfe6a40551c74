#!/usr/bin/env bash
# The benchmark suite of resty-ffi (docs/bench.md): one command.
#
#   bash bench/run.sh                 # full run, ~5-10 minutes
#   BENCH_QUICK=1 bash bench/run.sh   # smoke run, ~1 minute (results outside the repo)
#
# Builds the module, the runtimes and bench/'s Rust programs, starts a unix-socket echo server
# and a one-worker nginx on 127.0.0.1:$BENCH_PORT, then measures
#   1. sequential calls in one request (bridge/Rust, bridge/Go, unix socket, eventfd floor),
#      unpinned and pinned to CPU 0;
#   2. wrk at 1/16/64 connections (nginx and the echo server on CPU 0, wrk on CPU 1);
#   3. worker RSS and live tasks after 10,000 and after BENCH_MEM_CALLS bridge calls;
# and writes bench/results/<date>-<cores>cpu.{md,png} and latest.{md,png}.
#
# Environment: BENCH_N (calls per sequential row, 20000), BENCH_ROUNDS (rounds of the
# sequential rows, 3; the report takes the median), BENCH_DURATION (seconds per wrk run, 5), BENCH_MEM_CALLS (1000000), BENCH_PORT (20100..20199, 20100), BENCH_QUICK=1,
# BENCH_NO_BUILD=1 (use what is built), BENCH_RESULTS_DIR (where the report goes).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"

if [ -n "${BENCH_QUICK:-}" ]; then
    N=${BENCH_N:-2000}
    ROUNDS=${BENCH_ROUNDS:-1}
    DURATION=${BENCH_DURATION:-1}
    MEM_CALLS=${BENCH_MEM_CALLS:-100000}
    RESULTS_DIR=${BENCH_RESULTS_DIR:-$RESTY_FFI_BUILD/bench/results-quick}
else
    N=${BENCH_N:-20000}
    ROUNDS=${BENCH_ROUNDS:-3}
    DURATION=${BENCH_DURATION:-5}
    MEM_CALLS=${BENCH_MEM_CALLS:-1000000}
    RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
fi
PORT=${BENCH_PORT:-20100}
SIZES=(512 4096 10240 102400)
CONNS=(1 16 64)
MEM_FIRST=10000
MEM_CHUNK=100000

is_int() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_int "$N" || die "BENCH_N must be a positive integer"
is_int "$ROUNDS" || die "BENCH_ROUNDS must be a positive integer"
is_int "$DURATION" || die "BENCH_DURATION must be a positive integer (seconds)"
is_int "$MEM_CALLS" && [ "$MEM_CALLS" -gt "$MEM_FIRST" ] ||
    die "BENCH_MEM_CALLS must be an integer above $MEM_FIRST"
is_int "$PORT" && [ "$PORT" -ge 20100 ] && [ "$PORT" -le 20199 ] ||
    die "BENCH_PORT must be in 20100..20199"

CORES=$(nproc)
ALL_CPUS=0-$((CORES - 1))
WORK=$RESTY_FFI_BUILD/bench
DATA=$WORK/data
PREFIX=$WORK/nginx
SOCKET=$WORK/echo.sock
BIN=$CARGO_TARGET_DIR/release
GO_LIB=$LIB_DIR/libffi_go_echo.so
BASE_URL=http://127.0.0.1:$PORT

NGINX_PID=
ECHO_PID=
WORKER_PID=

# ---------------------------------------------------------------- processes

stop_pid() {   # pid: TERM, wait up to 5 s, then KILL
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_nginx() {
    # The master's TERM stops its worker; a worker left behind (master killed) is ours too.
    stop_pid "$NGINX_PID"
    stop_pid "$WORKER_PID"
    NGINX_PID= WORKER_PID=
}

cleanup() {
    stop_nginx
    stop_pid "$ECHO_PID"
    ECHO_PID=
    rm -f "$SOCKET"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_echo_server() {
    rm -f "$SOCKET"
    # A safety net: the server exits by itself long after any default run ends.
    "$BIN/bench-echo-server" "$SOCKET" --max-seconds 3600 2>>"$WORK/echo-server.log" &
    ECHO_PID=$!
    for _ in $(seq 100); do [ -S "$SOCKET" ] && return 0; sleep 0.05; done
    die "the echo server did not create $SOCKET (see $WORK/echo-server.log)"
}

start_nginx() {
    mkdir -p "$PREFIX/logs" "$PREFIX/conf"
    sed -e "s#BENCH_MODULE#$MODULE_SO#" -e "s#BENCH_USER#$(id -un)#" \
        -e "s#BENCH_LUA_DIR#$BENCH_DIR/lua#" -e "s#BENCH_REPO_LUA#$REPO_ROOT/lua#" \
        -e "s#BENCH_SOCKET#$SOCKET#" -e "s#BENCH_PORT#$PORT#" \
        "$BENCH_DIR/nginx.conf" >"$PREFIX/conf/nginx.conf"
    : >"$PREFIX/logs/error.log"
    LD_LIBRARY_PATH=$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        "$NGINX_BIN" -p "$PREFIX/" -c conf/nginx.conf &
    NGINX_PID=$!
    for _ in $(seq 100); do
        WORKER_PID=$(curl -s --max-time 2 "$BASE_URL/pid" 2>/dev/null || true)
        is_int "$WORKER_PID" && break
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited (see $PREFIX/logs/error.log)"
        WORKER_PID=
        sleep 0.1
    done
    is_int "$WORKER_PID" || die "nginx does not answer on $BASE_URL (see $PREFIX/logs/error.log)"
    # Loads both runtimes (their threads exist from now on) and opens a unix connection.
    curl -sf --max-time 30 "$BASE_URL/warmup" >"$WORK/warmup.txt" ||
        die "warm-up request failed (see $PREFIX/logs/error.log)"
}

# Pins (cpu list) or unpins (all cpus) the nginx worker and the echo server, every thread.
set_affinity() {
    local cpus=$1
    taskset -a -p -c "$cpus" "$WORKER_PID" >/dev/null
    taskset -a -p -c "$cpus" "$ECHO_PID" >/dev/null
}

# ---------------------------------------------------------------- measurements

# GET a URL (bounded), print its body; fail the row (not the run) on an error.
get() {
    curl -sS --max-time "$2" "$1" 2>>"$WORK/curl.log" || true
}

sequential_row() {   # mode impl size
    local mode=$1 impl=$2 size=$3 out us
    # Generous bound: 100 KB over the unix socket can take ~0.5 ms a call on a busy machine.
    out=$(get "$BASE_URL/seq?impl=$impl&size=$size&n=$N" $((60 + N / 50)))
    us=$(sed -n 's/^us_per_call=\([0-9.]*\) calls=[0-9]* errors=0$/\1/p' <<<"$out")
    if [ -z "$us" ]; then
        log "sequential $mode $impl $size: failed: ${out:-no answer}"
        us=-
    fi
    printf '%s\t%s\t%s\t%s\n' "$mode" "$impl" "$size" "$us" >>"$DATA/seq.tsv"
}

floor_rows() {   # mode
    local mode=$1 pin=() size ns
    [ "$mode" = pinned ] && pin=(taskset -c 0)
    local sizes_csv
    sizes_csv=$(IFS=,; echo "${SIZES[*]}")
    timeout 300 "${pin[@]}" "$BIN/bench-floor" --sizes "$sizes_csv" --iters "$N" >"$DATA/floor-$mode.txt" ||
        log "floor $mode failed"
    for size in "${SIZES[@]}"; do
        ns=$(sed -n "s/^size=$size iters=[0-9]* ns_per_round_trip=\([0-9.]*\)$/\1/p" "$DATA/floor-$mode.txt")
        printf '%s\tfloor\t%s\t%s\n' "$mode" "$size" \
            "$(awk -v ns="${ns:-}" 'BEGIN { if (ns == "") print "-"; else printf "%.3f", ns / 1000 }')" \
            >>"$DATA/seq.tsv"
    done
}

run_sequential() {
    local impls=(rust go unix) mode round size impl
    [ -f "$GO_LIB" ] || impls=(rust unix)
    for mode in unpinned pinned; do
        if [ "$mode" = pinned ]; then set_affinity 0; else set_affinity "$ALL_CPUS"; fi
        log "sequential, $mode: ${impls[*]} floor x ${SIZES[*]} bytes, $N calls each, $ROUNDS round(s)"
        # Rounds interleave the variants, so a noisy moment hits all of them alike.
        for round in $(seq "$ROUNDS"); do
            for size in "${SIZES[@]}"; do
                for impl in "${impls[@]}"; do
                    sequential_row "$mode" "$impl" "$size"
                done
            done
            floor_rows "$mode"
        done
    done
    set_affinity "$ALL_CPUS"
}

# wrk's "50%  1.23ms" -> milliseconds
wrk_ms() {
    awk -v p="$1" '$1 == p {
        v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
        f = (unit == "us") ? 0.001 : (unit == "s") ? 1000 : (unit == "m") ? 60000 : 1
        printf "%.3f", v * f; found = 1 }
        END { if (!found) print "-" }'
}

wrk_row() {   # endpoint conns
    local endpoint=$1 conns=$2 out rps p50 p99 errors pin=()
    [ "$CORES" -ge 2 ] && pin=(taskset -c 1)
    out=$(timeout $((DURATION + 30)) "${pin[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" \
        --timeout 5s --latency "$BASE_URL/$endpoint" 2>&1 || true)
    printf '%s\n' "$out" >>"$WORK/wrk.log"
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(wrk_ms 50% <<<"$out")
    p99=$(wrk_ms 99% <<<"$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
        /Socket errors:/ { for (i = 4; i <= NF; i += 2) { gsub(/,/, "", $i); n += $i } }
        END { print n + 0 }' <<<"$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$endpoint" "$conns" "${rps:--}" "$p50" "$p99" "$errors" \
        >>"$DATA/wrk.tsv"
}

run_concurrent() {
    local endpoint conns
    set_affinity 0
    log "wrk: say ffi unix x ${CONNS[*]} connections, ${DURATION}s each$([ "$CORES" -ge 2 ] && echo ', nginx on CPU 0, wrk on CPU 1')"
    for endpoint in say ffi unix; do
        # Warm-up (not recorded): JIT, connection pool, runtime threads.
        timeout 30 wrk -t1 -c16 -d1s "$BASE_URL/$endpoint" >/dev/null 2>&1 || true
    done
    # Endpoints side by side at each connection count, so their ratios share a moment.
    for conns in "${CONNS[@]}"; do
        for endpoint in say ffi unix; do
            wrk_row "$endpoint" "$conns"
        done
    done
    set_affinity "$ALL_CPUS"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$WORKER_PID/status"; }

mem_point() {   # label calls_total
    local live
    live=$(get "$BASE_URL/live" 10)
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$(rss_kb)" "${live:--}" >>"$DATA/mem.tsv"
}

mem_calls() {   # calls
    local out
    out=$(get "$BASE_URL/mem?calls=$1" $((60 + $1 / 500)))
    grep -q "^calls=$1 " <<<"$out" || die "memory loop of $1 calls failed: ${out:-no answer}"
}

run_memory() {
    # A fresh worker, so "the first 10,000 calls" are its first.
    stop_nginx
    start_nginx
    log "memory: RSS and live tasks after 1, $MEM_FIRST and $MEM_CALLS calls"
    mem_calls 1
    mem_point loaded 1
    mem_calls $((MEM_FIRST - 1))
    mem_point first $MEM_FIRST
    local done_calls=$MEM_FIRST chunk
    while [ "$done_calls" -lt "$MEM_CALLS" ]; do
        chunk=$((MEM_CALLS - done_calls))
        [ "$chunk" -gt "$MEM_CHUNK" ] && chunk=$MEM_CHUNK
        mem_calls "$chunk"
        done_calls=$((done_calls + chunk))
    done
    mem_point last "$MEM_CALLS"
}

# ---------------------------------------------------------------- main

if [ -z "${BENCH_NO_BUILD:-}" ]; then
    bash "$REPO_ROOT/ci/setup.sh"
    bash "$REPO_ROOT/ci/build.sh"
fi
cargo build --release --quiet --manifest-path "$BENCH_DIR/Cargo.toml" ||
    die "cannot build bench/ (cargo build --release --manifest-path bench/Cargo.toml)"
for tool in wrk gnuplot taskset curl; do
    command -v "$tool" >/dev/null || die "$tool not found (bash ci/setup.sh installs it)"
done
[ -f "$MODULE_SO" ] && [ -f "$LIB_DIR/libffi_echo.so" ] || die "module or echo runtime missing: run bash ci/build.sh"

mkdir -p "$WORK" "$RESULTS_DIR"
rm -rf "$DATA"
mkdir -p "$DATA"
: >"$WORK/wrk.log"
: >"$WORK/curl.log"
: >"$WORK/echo-server.log"
started=$(date +%s)

GO_NOTE=
[ -f "$GO_LIB" ] || GO_NOTE="libffi_go_echo.so not built: the Go rows are skipped"
[ -z "$GO_NOTE" ] || log "$GO_NOTE"

{
    echo "date=$(date -u +%Y-%m-%d)"
    echo "time=$(date -u +%H:%M:%SZ)"
    echo "cores=$CORES"
    echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "kernel=$(uname -r)"
    echo "nginx=$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')"
    echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "n=$N"
    echo "rounds=$ROUNDS"
    echo "duration=$DURATION"
    echo "mem_calls=$MEM_CALLS"
    echo "quick=${BENCH_QUICK:-}"
    echo "go_note=$GO_NOTE"
} >"$DATA/info.env"

start_echo_server
start_nginx
grep -q '^go ok' "$WORK/warmup.txt" || [ ! -f "$GO_LIB" ] ||
    log "Go echo runtime did not answer the warm-up: $(grep '^go' "$WORK/warmup.txt")"

run_sequential
run_concurrent
run_memory
stop_nginx

echo "seconds=$(($(date +%s) - started))" >>"$DATA/info.env"
grep -E '\[(alert|crit|emerg)\]' "$PREFIX/logs/error.log" >"$DATA/nginx-problems.txt" || true

log "writing the report into $RESULTS_DIR"
bash "$BENCH_DIR/report.sh" "$DATA" "$RESULTS_DIR"
sed -n '/^| goal /,/^$/p' "$RESULTS_DIR/latest.md"
