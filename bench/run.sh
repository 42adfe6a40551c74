#!/usr/bin/env bash
# The benchmark suite of resty-ffi (docs/bench.md): one command.
#
#   bash bench/run.sh                 # full run, ~5-10 minutes
#   BENCH_QUICK=1 bash bench/run.sh   # smoke run, ~1 minute (results outside the repo)
#
# Builds the module, the runtimes and bench/'s Rust programs, starts a unix-socket echo server
# and a one-worker nginx on 127.0.0.1:$BENCH_PORT, then measures
#   0. the idle CPU of the worker with both runtimes loaded and no calls (BENCH_IDLE_SECONDS),
#      once after the warm-up and once after the sequential and paced rows;
#   1. sequential calls in one request (bridge/Rust, bridge/Go, unix socket, eventfd floor),
#      µs per call and CPU µs per call, in three modes: unpinned on a quiet machine, pinned to
#      CPU 0, and contended (unpinned while bench-busy spins on the machine);
#   2. paced calls: one 512-byte call every BENCH_PACED_INTERVAL_US (500 calls/s), latency of
#      the call alone and CPU µs per call (the idle time between calls included), and the
#      same paced loop without calls (what the pacing alone costs);
#   3. wrk at 1/16/64 connections (nginx and the echo server on CPU 0, wrk on CPU 1);
#   4. worker RSS and live tasks after 10,000 and after BENCH_MEM_CALLS bridge calls;
# and writes bench/results/<date>-<cores>cpu.{md,png} and latest.{md,png}.
#
# CPU time is the process CPU-time clock (bench-cputime, or clock_getcpuclockid in the
# worker): user + system time of all threads, the sum utime + stime of /proc/<pid>/stat
# without its 10 ms ticks (those are recorded beside it as a cross-check). The worker counts
# with its runtime threads; for the unix rows the echo server's CPU is added.
#
# Environment: BENCH_N (calls per sequential row, 20000), BENCH_ROUNDS (rounds of the
# sequential, paced and wrk rows, 3; the report takes the medians), BENCH_DURATION (seconds per
# wrk run, 3), BENCH_MEM_CALLS (1000000), BENCH_PACED_N (calls per paced row, 2000),
# BENCH_PACED_INTERVAL_US (2000), BENCH_IDLE_SECONDS (2), BENCH_PORT (20100..20199, 20100),
# BENCH_QUICK=1, BENCH_NO_BUILD=1 (use what is built), BENCH_RESULTS_DIR (where the report goes).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"
. "$BENCH_DIR/lib.sh"

if [ -n "${BENCH_QUICK:-}" ]; then
    N=${BENCH_N:-2000}
    ROUNDS=${BENCH_ROUNDS:-1}
    DURATION=${BENCH_DURATION:-1}
    MEM_CALLS=${BENCH_MEM_CALLS:-100000}
    PACED_N=${BENCH_PACED_N:-500}
    RESULTS_DIR=${BENCH_RESULTS_DIR:-$RESTY_FFI_BUILD/bench/results-quick}
else
    N=${BENCH_N:-20000}
    ROUNDS=${BENCH_ROUNDS:-3}
    DURATION=${BENCH_DURATION:-3}
    MEM_CALLS=${BENCH_MEM_CALLS:-1000000}
    PACED_N=${BENCH_PACED_N:-2000}
    RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
fi
PORT=${BENCH_PORT:-20100}
PACED_INTERVAL_US=${BENCH_PACED_INTERVAL_US:-2000}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-2}
SIZES=(512 4096 10240 102400)
PACED_SIZE=512
CONNS=(1 16 64)
MEM_FIRST=10000
MEM_CHUNK=100000

is_int "$N" || die "BENCH_N must be a positive integer"
is_int "$ROUNDS" || die "BENCH_ROUNDS must be a positive integer"
is_int "$DURATION" || die "BENCH_DURATION must be a positive integer (seconds)"
is_int "$MEM_CALLS" && [ "$MEM_CALLS" -gt "$MEM_FIRST" ] ||
    die "BENCH_MEM_CALLS must be an integer above $MEM_FIRST"
is_int "$PORT" && [ "$PORT" -ge 20100 ] && [ "$PORT" -le 20199 ] ||
    die "BENCH_PORT must be in 20100..20199"
is_int "$PACED_N" && [ "$PACED_N" -le 100000 ] || die "BENCH_PACED_N must be an integer in 1..100000"
is_int "$PACED_INTERVAL_US" && [ "$PACED_INTERVAL_US" -ge 1000 ] && [ "$PACED_INTERVAL_US" -le 1000000 ] ||
    die "BENCH_PACED_INTERVAL_US must be an integer in 1000..1000000"
is_int "$IDLE_SECONDS" && [ "$IDLE_SECONDS" -le 600 ] || die "BENCH_IDLE_SECONDS must be an integer in 1..600"

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
BUSY_PID=

# ---------------------------------------------------------------- processes

stop_nginx() {
    # The master's TERM stops its worker; a worker left behind (master killed) is ours too.
    stop_pid "$NGINX_PID"
    stop_pid "$WORKER_PID"
    NGINX_PID= WORKER_PID=
}

cleanup() {
    stop_nginx
    stop_pid "$BUSY_PID"
    BUSY_PID=
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
    bench_conf "$MODULE_SO" "$REPO_ROOT/lua" "$SOCKET" "$PORT" "$PREFIX/conf/nginx.conf"
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

# The contended mode's neighbour: one spinning process, unpinned, bounded by time.
start_busy() {
    "$BIN/bench-busy" --max-seconds 3600 &
    BUSY_PID=$!
    BUSY_STARTED_NS=$(date +%s%N)
    BUSY_CPU0=$(cpu_ns "$BUSY_PID")
}

stop_busy() {   # records the share of a CPU the spinner got into info.env
    local cpu1 wall
    cpu1=$(cpu_ns "$BUSY_PID")
    wall=$(($(date +%s%N) - BUSY_STARTED_NS))
    stop_pid "$BUSY_PID"
    BUSY_PID=
    awk -v a="$BUSY_CPU0" -v b="$cpu1" -v w="$wall" 'BEGIN {
        if (a == "-" || b == "-" || w <= 0) print "busy_cpu_share=-"
        else printf "busy_cpu_share=%.3f\n", (b - a) / w }' >>"$DATA/info.env"
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

# CPU time of a whole process (all threads) in ns, or "-".
cpu_ns() {
    local v
    v=$("$BIN/bench-cputime" "$1" 2>/dev/null | sed -n 's/^pid=[0-9]* cpu_ns=\([0-9]*\)$/\1/p')
    echo "${v:--}"
}

# utime + stime of a whole process in clock ticks (/proc/<pid>/stat fields 14 and 15), or "-".
stat_ticks() {
    local v
    v=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }')
    echo "${v:--}"
}

# The value of key=... in a "k=v k=v" line, or "-".
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' <<<"$2" | grep . || echo -; }

# One seq.tsv line from a /seq or /paced answer:
#   mode impl size us_per_call cpu_us_per_call worker_cpu_ns echo_cpu_ns worker_ticks echo_ticks calls
# CPU µs per call: the worker's CPU (all threads) over the timed calls, plus the echo
# server's for the unix rows, divided by the number of calls.
seq_line() {   # mode impl size answer
    local mode=$1 impl=$2 size=$3 out=$4 us calls wns ens wt et cpu
    us=$(field us_per_call "$out"); calls=$(field calls "$out")
    wns=$(field cpu_ns "$out"); ens=$(field echo_cpu_ns "$out")
    wt=$(field ticks "$out"); et=$(field echo_ticks "$out")
    cpu=$(awk -v w="$wns" -v e="$ens" -v n="$calls" -v unix="$([ "$impl" = unix ] && echo 1)" 'BEGIN {
        if (w == "-" || n == "-" || n + 0 == 0 || (unix && e == "-")) { print "-"; exit }
        printf "%.3f", (w + (unix ? e : 0)) / n / 1000 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$impl" "$size" "$us" "$cpu" \
        "$wns" "$ens" "$wt" "$et" "$calls" >>"$DATA/seq.tsv"
}

sequential_row() {   # mode impl size
    local mode=$1 impl=$2 size=$3 out
    # Generous bound: 100 KB over the unix socket can take ~0.5 ms a call on a busy machine.
    out=$(get "$BASE_URL/seq?impl=$impl&size=$size&n=$N&echo_pid=$ECHO_PID" $((60 + N / 50)))
    if ! grep -Eq '^us_per_call=[0-9.]+ calls=[0-9]+ errors=0 ' <<<"$out"; then
        log "sequential $mode $impl $size: failed: ${out:-no answer}"
        out="us_per_call=- calls=-"
    fi
    seq_line "$mode" "$impl" "$size" "$out"
}

floor_rows() {   # mode
    local mode=$1 pin=() size line
    [ "$mode" = pinned ] && pin=(taskset -c 0)
    local sizes_csv
    sizes_csv=$(IFS=,; echo "${SIZES[*]}")
    timeout 300 "${pin[@]}" "$BIN/bench-floor" --sizes "$sizes_csv" --iters "$N" >"$DATA/floor-$mode.txt" ||
        log "floor $mode failed"
    for size in "${SIZES[@]}"; do
        line=$(grep "^size=$size " "$DATA/floor-$mode.txt" || true)
        printf '%s\tfloor\t%s\t%s\t%s\t-\t-\t-\t-\t%s\n' "$mode" "$size" \
            "$(awk -v ns="$(field ns_per_round_trip "$line")" 'BEGIN { if (ns == "-") print "-"; else printf "%.3f", ns / 1000 }')" \
            "$(awk -v ns="$(field cpu_ns_per_round_trip "$line")" 'BEGIN { if (ns == "-") print "-"; else printf "%.3f", ns / 1000 }')" \
            "$(field iters "$line")" >>"$DATA/seq.tsv"
    done
}

# Deadline cost (issue 16): the Rust echo with each call's timeout (its deadline, as every
# row above) and without one, 512 B, unpinned, interleaved.
run_deadline_cost() {
    local round impl
    log "deadline cost: rust vs rust_nodl x 512 bytes, $N calls each, $ROUNDS round(s)"
    for round in $(seq "$ROUNDS"); do
        for impl in rust rust_nodl; do
            sequential_row deadline "$impl" 512
        done
    done
}

run_sequential() {
    local impls=(rust go unix) mode round size impl
    [ -f "$GO_LIB" ] || impls=(rust unix)
    for mode in unpinned pinned contended; do
        if [ "$mode" = pinned ]; then set_affinity 0; else set_affinity "$ALL_CPUS"; fi
        [ "$mode" = contended ] && start_busy
        log "sequential, $mode: ${impls[*]} floor x ${SIZES[*]} bytes, $N calls each, $ROUNDS round(s)$([ "$mode" = contended ] && echo ", bench-busy spinning (pid $BUSY_PID)")"
        # Rounds interleave the variants, so a noisy moment hits all of them alike.
        for round in $(seq "$ROUNDS"); do
            for size in "${SIZES[@]}"; do
                for impl in "${impls[@]}"; do
                    sequential_row "$mode" "$impl" "$size"
                done
            done
            floor_rows "$mode"
        done
        [ "$mode" = contended ] && stop_busy
    done
    set_affinity "$ALL_CPUS"
}

# Paced: one call every PACED_INTERVAL_US; a seq.tsv line (mode paced) and a paced.tsv line:
#   impl size p50_us p99_us max_us rate_per_s late wall_ms
paced_row() {   # impl size
    local impl=$1 size=$2 out
    out=$(get "$BASE_URL/paced?impl=$impl&size=$size&n=$PACED_N&interval_us=$PACED_INTERVAL_US&echo_pid=$ECHO_PID" \
        $((60 + PACED_N * PACED_INTERVAL_US * 3 / 1000000)))
    if ! grep -Eq '^us_per_call=[0-9.]+ .* errors=0 ' <<<"$out"; then
        log "paced $impl $size: failed: ${out:-no answer}"
        out="us_per_call=- calls=-"
    fi
    seq_line paced "$impl" "$size" "$out"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$size" "$(field p50_us "$out")" \
        "$(field p99_us "$out")" "$(field max_us "$out")" "$(field rate_per_s "$out")" \
        "$(field late "$out")" "$(field wall_ms "$out")" >>"$DATA/paced.tsv"
}

run_paced() {
    # none: the same paced loop without a call, what the pacing itself costs.
    local impls=(rust go unix none) round impl
    [ -f "$GO_LIB" ] || impls=(rust unix none)
    set_affinity "$ALL_CPUS"
    log "paced: ${impls[*]} x $PACED_SIZE bytes, one call every ${PACED_INTERVAL_US} µs, $PACED_N calls each, $ROUNDS round(s)"
    for round in $(seq "$ROUNDS"); do
        for impl in "${impls[@]}"; do
            paced_row "$impl" "$PACED_SIZE"
        done
    done
}

# Idle: nothing talks to nginx for IDLE_SECONDS; the CPU the worker (with its loaded
# runtimes) and the echo server burn meanwhile. idle.tsv:
#   point wall_ns worker_cpu_ns echo_cpu_ns worker_ticks echo_ticks
idle_point() {   # point
    local w0 e0 wt0 et0 t0 w1 e1 wt1 et1 t1
    sleep 0.5   # let pollers that spin after a call park
    t0=$(date +%s%N)
    w0=$(cpu_ns "$WORKER_PID"); e0=$(cpu_ns "$ECHO_PID")
    wt0=$(stat_ticks "$WORKER_PID"); et0=$(stat_ticks "$ECHO_PID")
    sleep "$IDLE_SECONDS"
    w1=$(cpu_ns "$WORKER_PID"); e1=$(cpu_ns "$ECHO_PID")
    wt1=$(stat_ticks "$WORKER_PID"); et1=$(stat_ticks "$ECHO_PID")
    t1=$(date +%s%N)
    awk -v p="$1" -v t="$((t1 - t0))" -v w0="$w0" -v w1="$w1" -v e0="$e0" -v e1="$e1" \
        -v wt0="$wt0" -v wt1="$wt1" -v et0="$et0" -v et1="$et1" 'function d(a, b) { return (a == "-" || b == "-") ? "-" : b - a }
        BEGIN { printf "%s\t%s\t%s\t%s\t%s\t%s\n", p, t, d(w0, w1), d(e0, e1), d(wt0, wt1), d(et0, et1) }' \
        >>"$DATA/idle.tsv"
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
    log "wrk: say yield ffi ffi_notel unix x ${CONNS[*]} connections, ${DURATION}s each$([ "$CORES" -ge 2 ] && echo ', nginx on CPU 0, wrk on CPU 1')"
    for endpoint in say yield ffi ffi_notel unix; do
        # Warm-up (not recorded): JIT, connection pool, runtime threads.
        timeout 30 wrk -t1 -c16 -d1s "$BASE_URL/$endpoint" >/dev/null 2>&1 || true
    done
    # Endpoints side by side at each connection count, so their ratios share a moment; the
    # whole set ROUNDS times (the report takes the medians: one wrk run on a noisy machine
    # moves by 20 % and more).
    local round
    for round in $(seq "$ROUNDS"); do
        for conns in "${CONNS[@]}"; do
            for endpoint in say yield ffi ffi_notel unix; do
                wrk_row "$endpoint" "$conns"
            done
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
    echo "paced_n=$PACED_N"
    echo "paced_interval_us=$PACED_INTERVAL_US"
    echo "idle_seconds=$IDLE_SECONDS"
    echo "clk_tck=$(getconf CLK_TCK)"
    echo "quick=${BENCH_QUICK:-}"
    echo "go_note=$GO_NOTE"
} >"$DATA/info.env"

start_echo_server
start_nginx
grep -q '^go ok' "$WORK/warmup.txt" || [ ! -f "$GO_LIB" ] ||
    log "Go echo runtime did not answer the warm-up: $(grep '^go' "$WORK/warmup.txt")"

log "idle: worker CPU with the runtimes loaded, no calls, ${IDLE_SECONDS}s"
idle_point loaded
run_sequential
run_deadline_cost
run_paced
log "idle again after the sequential and paced rows, ${IDLE_SECONDS}s"
idle_point after
run_concurrent
run_memory
stop_nginx

echo "seconds=$(($(date +%s) - started))" >>"$DATA/info.env"
grep -E '\[(alert|crit|emerg)\]' "$PREFIX/logs/error.log" >"$DATA/nginx-problems.txt" || true

log "writing the report into $RESULTS_DIR"
bash "$BENCH_DIR/report.sh" "$DATA" "$RESULTS_DIR"
sed -n '/^| goal /,/^$/p' "$RESULTS_DIR/latest.md"
sed -n '/^## Every mode/,/^## Goals/p' "$RESULTS_DIR/latest.md" | sed '$d' 
