#!/usr/bin/env bash
# Streams (issue 19): MB/s through one stream call, and what a chunk costs against a call.
#   1. 256 MiB in 64 KiB chunks through one rt:stream_x call (window 256 KiB), from the raw
#      test runtime (t/runtimes/ffi_test), the Rust SDK (thread pool: blocking send; tokio:
#      send_async) and the Go SDK (StreamWriter);
#   2. 10,000 chunks of 512 B in one stream against 10,000 plain calls of 512 B (echo).
# Each row: the median of STREAM_ROUNDS runs (5), each in one request, on a one-worker nginx.
# Writes bench/results/stream.md. Needs a build (ci/build.sh). Environment: BENCH_PORT
# (20180), STREAM_MIB (256), STREAM_ROUNDS (5), BENCH_RESULTS_DIR.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"
PORT=${BENCH_PORT:-20180}
MIB=${STREAM_MIB:-256}
ROUNDS=${STREAM_ROUNDS:-5}
WORK=$RESTY_FFI_BUILD/bench/stream
OUT=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
mkdir -p "$WORK/logs" "$WORK/conf" "$OUT"
sed -e "s#STREAM_MODULE#$MODULE_SO#" -e "s#STREAM_USER#$(id -un)#" -e "s#STREAM_REPO_LUA#$REPO_ROOT/lua#" \
    -e "s#STREAM_PORT#$PORT#" "$BENCH_DIR/stream.conf" >"$WORK/conf/nginx.conf"
LD_LIBRARY_PATH=$LIB_DIR "$NGINX_BIN" -p "$WORK/" -c conf/nginx.conf &
NGINX=$!
trap 'kill "$NGINX" 2>/dev/null; wait "$NGINX" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/run?rt=raw&mode=call&total=5&size=5" >/dev/null && break
    sleep 0.1
done

# once RT MODE TOTAL SIZE -> "bytes chunks seconds end"
once() {
    curl -sf --max-time 300 "http://127.0.0.1:$PORT/run?rt=$1&mode=$2&total=$3&size=$4&window=262144"
}
# run RT MODE TOTAL SIZE: ROUNDS runs, the one with the median seconds (the machine is shared).
run() {
    local i
    for i in $(seq "$ROUNDS"); do once "$@"; done | sort -k3,3 -g | sed -n "$(((ROUNDS + 1) / 2))p"
}
total=$((MIB * 1024 * 1024))
small=$((10000 * 512))
{
    echo "# Streams: throughput and per-chunk cost"
    echo
    echo "\`bash bench/stream.sh\` on $(nproc) CPUs, $(date -u +%F), the median of $ROUNDS runs each, one request a run"
    echo "(one nginx worker; CLOCK_MONOTONIC around the Lua loop in the request)."
    echo
    echo "## ${MIB} MiB in 64 KiB chunks through one stream call (window 256 KiB)"
    echo
    echo "| runtime | chunks | s | MB/s |"
    echo "|---|---:|---:|---:|"
    for rt in raw rust_pool rust_async go; do
        read -r bytes chunks secs end < <(run "$rt" stream "$total" 65536)
        [ "$end" = eof ] || die "$rt: the stream ended with $end"
        [ "$bytes" -ge "$total" ] || die "$rt: $bytes bytes, not $total"
        awk -v rt="$rt" -v c="$chunks" -v s="$secs" -v b="$total" \
            'BEGIN { printf "| %s | %d | %.4f | %.0f |\n", rt, c, s, b / s / 1e6 }'
    done
    echo
    echo "## 10,000 chunks of 512 B in one stream vs 10,000 plain calls of 512 B"
    echo
    echo "| runtime | stream µs/chunk | calls µs/call | ratio |"
    echo "|---|---:|---:|---:|"
    for rt in raw rust_pool go; do
        read -r _ sc ss send < <(run "$rt" stream "$small" 512)
        read -r _ cc cs cend < <(run "$rt" call "$small" 512)
        [ "$send" = eof ] && [ "$cend" = eof ] || die "$rt: $send / $cend"
        awk -v rt="$rt" -v sc="$sc" -v ss="$ss" -v cc="$cc" -v cs="$cs" \
            'BEGIN { a = ss / (sc - 1) * 1e6; b = cs / cc * 1e6; printf "| %s | %.2f | %.2f | %.1fx |\n", rt, a, b, b / a }'
    done
    echo
    echo "Rows: raw = t/runtimes/ffi_test (\`stream_total\`: try_send, then send when full);"
    echo "rust_pool / rust_async = the Rust SDK test runtime (ChunkSender::send / send_async);"
    echo "go = the Go SDK test runtime (StreamWriter.Write). A stream's last chunk is the answer's"
    echo "bytes (\"sent=N\" / \"waited=N\"), left out of the per-chunk count. Every 64 KiB chunk"
    echo "has the same bytes (LuaJIT interns strings: the reader's copy may find an equal one)."
    echo "Rows share the machine with whatever else runs on it: compare rows of one report."
} | tee "$OUT/stream.md"
