#!/usr/bin/env bash
# Two builds side by side: whether a change made calls faster, on a machine too noisy for two
# runs of bench/run.sh to tell (this project's VM moves by 30 % from one hour to the next).
# Two nginx instances, one per build, each with its own echo server; the rounds alternate
# between them (and which one goes first), so a noisy moment hits both alike. It prints each
# round and, per call kind, both medians, their ratio and how many rounds B won.
#
# Usage: bash bench/ab.sh LIB_A LIB_B [MODE [SIZE [N]]]
#   LIB_A, LIB_B  directories holding a build's ngx_http_resty_ffi_module.so and runtimes: a
#                 copy of $RESTY_FFI_BUILD/lib, e.g. `cp -r ~/.cache/resty-ffi/lib /tmp/lib-a`
#                 before the change and `.../lib /tmp/lib-b` after (bash ci/build.sh between)
#   MODE          quiet (default), pinned (everything on CPU 0), contended (bench-busy beside)
#   SIZE          payload bytes (512); N: calls per round and instance (20000)
# Environment: AB_ROUNDS (12), AB_IMPLS ("rust": any of rust go unix), AB_LUA_A / AB_LUA_B
# (the lua/ directory each instance uses; default this checkout's), AB_PORT (20191; B uses
# the next one). The echo server and bench-busy are bench/'s own programs (built here).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"
. "$BENCH_DIR/lib.sh"

[ $# -ge 2 ] || die "usage: bash bench/ab.sh LIB_A LIB_B [quiet|pinned|contended [SIZE [N]]]"
LIB_A=$(cd "$1" && pwd) || die "no directory $1"
LIB_B=$(cd "$2" && pwd) || die "no directory $2"
MODE=${3:-quiet}
SIZE=${4:-512}
N=${5:-20000}
ROUNDS=${AB_ROUNDS:-12}
read -r -a IMPLS <<<"${AB_IMPLS:-rust}"
PORT=${AB_PORT:-20191}
for lib in "$LIB_A" "$LIB_B"; do
    [ -f "$lib/ngx_http_resty_ffi_module.so" ] || die "$lib has no ngx_http_resty_ffi_module.so"
done
case $MODE in quiet | pinned | contended) ;; *) die "MODE: quiet, pinned or contended" ;; esac
is_int "$SIZE" && is_int "$N" && is_int "$ROUNDS" && is_int "$PORT" ||
    die "SIZE, N, AB_ROUNDS and AB_PORT must be positive integers"
for impl in "${IMPLS[@]}"; do
    case $impl in rust | go | unix) ;; *) die "AB_IMPLS: rust, go, unix" ;; esac
done

BIN=$CARGO_TARGET_DIR/release
WORK=$RESTY_FFI_BUILD/bench-ab
ALL_CPUS=0-$(($(nproc) - 1))
declare -A NGINX_PID ECHO_PID WORKER_PID URL
BUSY_PID=

cleanup() {
    local i
    for i in a b; do
        stop_pid "${NGINX_PID[$i]:-}"
        stop_pid "${WORKER_PID[$i]:-}"
        stop_pid "${ECHO_PID[$i]:-}"
    done
    stop_pid "$BUSY_PID"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() {   # instance lib lua port
    local i=$1 lib=$2 lua=$3 port=$4 dir=$WORK/$1 pid
    mkdir -p "$dir/nginx/logs" "$dir/nginx/conf"
    rm -f "$dir/echo.sock"
    "$BIN/bench-echo-server" "$dir/echo.sock" --max-seconds 3600 2>>"$dir/echo-server.log" &
    ECHO_PID[$i]=$!
    for _ in $(seq 100); do [ -S "$dir/echo.sock" ] && break; sleep 0.05; done
    bench_conf "$lib/ngx_http_resty_ffi_module.so" "$lua" "$dir/echo.sock" "$port" "$dir/nginx/conf/nginx.conf"
    : >"$dir/nginx/logs/error.log"
    LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        "$NGINX_BIN" -p "$dir/nginx/" -c conf/nginx.conf &
    NGINX_PID[$i]=$!
    URL[$i]=http://127.0.0.1:$port
    for _ in $(seq 100); do
        pid=$(curl -s --max-time 2 "${URL[$i]}/pid" 2>/dev/null || true)
        is_int "$pid" && break
        kill -0 "${NGINX_PID[$i]}" 2>/dev/null || die "nginx $i exited (see $dir/nginx/logs/error.log)"
        sleep 0.1
    done
    is_int "$pid" || die "nginx $i does not answer on ${URL[$i]}"
    WORKER_PID[$i]=$pid
    curl -sf --max-time 30 "${URL[$i]}/warmup" >/dev/null || die "warm-up of $i failed (see $dir/nginx/logs/error.log)"
    local cpus=$ALL_CPUS
    [ "$MODE" = pinned ] && cpus=0
    taskset -a -p -c "$cpus" "${WORKER_PID[$i]}" >/dev/null
    taskset -a -p -c "$cpus" "${ECHO_PID[$i]}" >/dev/null
}

# One row: "us cpu_us" (CPU of the worker, plus the echo server's for unix), or "- -".
row() {   # instance impl
    local i=$1 impl=$2 out
    out=$(curl -sS --max-time 600 "${URL[$i]}/seq?impl=$impl&size=$SIZE&n=$N&echo_pid=${ECHO_PID[$i]}" 2>/dev/null || true)
    grep -Eq '^us_per_call=[0-9.]+ .* errors=0 ' <<<"$out" || { echo "- -"; return; }
    awk '{for (k = 1; k <= NF; k++) { split($k, kv, "="); v[kv[1]] = kv[2] }
          c = v["cpu_ns"]; if (v["echo_cpu_ns"] != "-") c += v["echo_cpu_ns"]
          printf "%s %.3f\n", v["us_per_call"], c / v["calls"] / 1000}' <<<"$out"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

cargo build --release --quiet --manifest-path "$BENCH_DIR/Cargo.toml" ||
    die "cannot build bench/ (cargo build --release --manifest-path bench/Cargo.toml)"
mkdir -p "$WORK"
start a "$LIB_A" "${AB_LUA_A:-$REPO_ROOT/lua}" "$PORT"
start b "$LIB_B" "${AB_LUA_B:-$REPO_ROOT/lua}" $((PORT + 1))
[ "$MODE" = contended ] && { "$BIN/bench-busy" --max-seconds 3600 & BUSY_PID=$!; sleep 0.5; }
log "A: $LIB_A; B: $LIB_B; $MODE, $SIZE bytes, $N calls a row, $ROUNDS rounds, ${IMPLS[*]}"

DATA=$WORK/rounds.tsv
: >"$DATA"
for round in $(seq "$ROUNDS"); do
    order="a b"
    [ $((round % 2)) -eq 0 ] && order="b a"
    line="round $round:"
    for impl in "${IMPLS[@]}"; do
        for i in $order; do
            read -r us cpu < <(row "$i" "$impl")
            printf '%s\t%s\t%s\t%s\t%s\n' "$impl" "$i" "$round" "$us" "$cpu" >>"$DATA"
            line="$line $impl/$i $us µs ($cpu CPU)"
        done
    done
    echo "$line"
done

for impl in "${IMPLS[@]}"; do
    ma=$(awk -F'\t' -v m="$impl" '$1 == m && $2 == "a" && $4 != "-" {print $4}' "$DATA" | median)
    mb=$(awk -F'\t' -v m="$impl" '$1 == m && $2 == "b" && $4 != "-" {print $4}' "$DATA" | median)
    ca=$(awk -F'\t' -v m="$impl" '$1 == m && $2 == "a" && $5 != "-" {print $5}' "$DATA" | median)
    cb=$(awk -F'\t' -v m="$impl" '$1 == m && $2 == "b" && $5 != "-" {print $5}' "$DATA" | median)
    wins=$(awk -F'\t' -v m="$impl" '$1 == m && $4 != "-" {t[$3, $2] = $4; r[$3] = 1}
        END {w = 0; n = 0; for (k in r) if ((k, "a") in t && (k, "b") in t) { n++; if (t[k, "b"] < t[k, "a"]) w++ }
             print w " of " n}' "$DATA")
    ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.3f", b / a; else print "-"}')
    echo "$impl, $MODE, $SIZE B: A median $ma µs (CPU $ca), B median $mb µs (CPU $cb), B/A $ratio, B faster in $wins rounds"
done
