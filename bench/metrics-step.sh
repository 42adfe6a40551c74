#!/usr/bin/env bash
# What the module's own metrics show under a load step (issue 17): a runtime that needs 1 ms
# a call on one thread gets 1 connection, then 32 at once, then 1 again (wrk, 5 s each), while
# /metrics is scraped every 0.5 s. From the scrapes, per interval: calls/s and the mean queue
# wait and service time (the _sum and _count deltas of the two histograms). Writes
# bench/results/metrics-step.{tsv,md,png}. Needs what bench/run.sh needs (after a build).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
. "$BENCH_DIR/../ci/env.sh"
PORT=${BENCH_PORT:-20170}
PHASE=${STEP_SECONDS:-5}
WORK=$RESTY_FFI_BUILD/bench/metrics-step
OUT=$BENCH_DIR/results
mkdir -p "$WORK/logs" "$WORK/conf" "$WORK/scrapes" "$OUT"
rm -f "$WORK"/scrapes/*
sed -e "s#STEP_MODULE#$MODULE_SO#" -e "s#STEP_USER#$(id -un)#" -e "s#STEP_REPO_LUA#$REPO_ROOT/lua#" -e "s#STEP_PORT#$PORT#" \
    "$BENCH_DIR/metrics-step.conf" >"$WORK/conf/nginx.conf"
LD_LIBRARY_PATH=$LIB_DIR "$NGINX_BIN" -p "$WORK/" -c conf/nginx.conf &
NGINX=$!
trap 'kill "$NGINX" 2>/dev/null; wait "$NGINX" 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/work" >/dev/null && break; sleep 0.1; done

start=$(date +%s.%N)
( while :; do
    t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }')
    curl -s "http://127.0.0.1:$PORT/metrics" >"$WORK/scrapes/$t" || true
    sleep 0.5
  done ) &
SCRAPER=$!
for conns in 1 32 1; do
    wrk -t1 -c"$conns" -d"${PHASE}s" "http://127.0.0.1:$PORT/work" >>"$WORK/wrk.log" 2>&1 || true
done
sleep 1
kill "$SCRAPER" 2>/dev/null || true
wait "$SCRAPER" 2>/dev/null || true

# One line per scrape: time, calls, queue wait sum/count, service sum/count.
for f in $(ls "$WORK/scrapes" | sort -n); do
    awk -v t="$f" '
        /^resty_ffi_calls_total\{runtime="ffi_test",cfg="metrics-step"\}/ { calls = $2 }
        /^resty_ffi_queue_wait_seconds_sum\{runtime="ffi_test",cfg="metrics-step"\}/ { qs = $2 }
        /^resty_ffi_queue_wait_seconds_count\{runtime="ffi_test",cfg="metrics-step"\}/ { qc = $2 }
        /^resty_ffi_service_seconds_sum\{runtime="ffi_test",cfg="metrics-step"\}/ { ss = $2 }
        /^resty_ffi_service_seconds_count\{runtime="ffi_test",cfg="metrics-step"\}/ { sc = $2 }
        END { if (calls != "") print t, calls, qs, qc, ss, sc }' "$WORK/scrapes/$f"
done >"$WORK/scrapes.txt"
# Per interval: time, calls/s, mean queue wait ms, mean service ms.
awk 'NR > 1 && $4 > pq && $6 > ps {
        dt = $1 - pt
        printf "%.2f\t%.0f\t%.3f\t%.3f\n", $1, ($2 - pc) / dt, ($3 - pqs) / ($4 - pq) * 1000, ($5 - pss) / ($6 - ps) * 1000
     }
     { pt = $1; pc = $2; pqs = $3; pq = $4; pss = $5; ps = $6 }' "$WORK/scrapes.txt" >"$OUT/metrics-step.tsv"

gnuplot <<GP 2>/dev/null || true
set terminal pngcairo size 900,420
set output "$OUT/metrics-step.png"
set title "resty-ffi's own metrics under a load step (1, then 32, then 1 connection; 1 ms of work a call)"
set xlabel "seconds"
set ylabel "ms per call (mean over each 0.5 s scrape interval)"
set y2label "calls/s"
set y2tics
set ytics nomirror
set key below
plot "$OUT/metrics-step.tsv" using 1:3 with linespoints title "queue wait (post -> taken)", \
     "$OUT/metrics-step.tsv" using 1:4 with linespoints title "service (taken -> answered)", \
     "$OUT/metrics-step.tsv" using 1:2 axes x1y2 with lines dashtype 2 title "calls/s"
GP
{
    echo "# The module's metrics under a load step"
    echo
    echo "\`bash bench/metrics-step.sh\` on $(nproc) CPUs, $(date -u +%F): a runtime that needs 1 ms a call on"
    echo "its one thread; wrk with 1, then 32, then 1 connection, ${PHASE} s each; \`/metrics\`"
    echo "(\`resty.ffi.metrics\`) scraped every 0.5 s. Each row: the interval ending then, from the"
    echo "deltas of \`resty_ffi_calls_total\` and the \`_sum\`/\`_count\` of"
    echo "\`resty_ffi_queue_wait_seconds\` and \`resty_ffi_service_seconds\`."
    echo
    echo "![metrics under a load step](metrics-step.png)"
    echo
    echo "| s | calls/s | queue wait ms | service ms |"
    echo "|---:|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$OUT/metrics-step.tsv"
} >"$OUT/metrics-step.md"
echo "wrote $OUT/metrics-step.md, .tsv, .png"
