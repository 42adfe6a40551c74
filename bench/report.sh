#!/usr/bin/env bash
# Writes the benchmark report from bench/run.sh's data directory:
#   <results>/<date>-<cores>cpu.md and .png, and copies as latest.md / latest.png.
#
#   bash bench/report.sh <data dir> <results dir>
#
# Data (tab-separated, "-" = not measured):
#   seq.tsv   mode impl size us_per_call        (mode: unpinned|pinned; impl: rust|go|unix|floor;
#                                                one line per round)
#   wrk.tsv   endpoint conns req_per_s p50_ms p99_ms errors
#   mem.tsv   point calls rss_kib live_tasks    (point: loaded|first|last)
#   info.env  key=value about the machine and the run
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
DATA=${1:?usage: report.sh <data dir> <results dir>}
RESULTS=${2:?usage: report.sh <data dir> <results dir>}

info() { sed -n "s/^$1=//p" "$DATA/info.env" | head -n1; }
DATE=$(info date)
CORES=$(info cores)
NAME=$DATE-${CORES}cpu
MD=$RESULTS/$NAME.md
PNG=$RESULTS/$NAME.png
SIZES=(512 4096 10240 102400)

# One sequential figure: the median over the rounds that gave one, or "-".
seq_us() {
    awk -F'\t' -v m="$1" -v i="$2" -v s="$3" '$1 == m && $2 == i && $3 == s && $4 != "-" { print $4 }' "$DATA/seq.tsv" |
        sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) print "-"
            else if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
            else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
wrk_field() { awk -F'\t' -v e="$1" -v c="$2" -v f="$3" '$1 == e && $2 == c { v = $f } END { print (v == "" ? "-" : v) }' "$DATA/wrk.tsv"; }
mem_field() { awk -F'\t' -v p="$1" -v f="$2" '$1 == p { v = $f } END { print (v == "" ? "-" : v) }' "$DATA/mem.tsv"; }

# a / b with 3 decimals, or "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
# "yes"/"no"/"n/a": value <op> limit
check() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "-") { print "n/a"; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (op == ">=") ? (v + 0 >= l + 0) : (op == ">") ? (v + 0 > l + 0) : (v + 0 == l + 0)
    print (ok ? "**yes**" : "no") }'; }
label() { case $1 in 512) echo "512 B" ;; 4096) echo "4 KB" ;; 10240) echo "10 KB" ;; 102400) echo "100 KB" ;; *) echo "$1 B" ;; esac; }

goal_row() {   # description measured op limit target-text
    printf '| %s | %s | %s | %s |\n' "$1" "$2" "$5" "$(check "$2" "$3" "$4")"
}

write_goals() {
    local mode impl name
    echo "## Goals of issue 6"
    echo
    echo "Ratios between variants measured in this run (the machine may be noisy; the ratios are what count)."
    echo
    echo "| goal | measured | target | met |"
    echo "|---|---|---|---|"
    for impl in rust go; do
        name=$([ "$impl" = rust ] && echo "Rust echo" || echo "Go echo")
        for mode in unpinned pinned; do
            [ "$(seq_us "$mode" "$impl" 512)" = - ] && [ "$impl" = go ] && continue
            goal_row "sequential bridge ($name) / unix socket, 512 B, $mode" \
                "$(ratio "$(seq_us "$mode" "$impl" 512)" "$(seq_us "$mode" unix 512)")" "<=" 0.3333 "≤ 1/3 (0.333)"
            goal_row "sequential bridge ($name) / unix socket, 100 KB, $mode" \
                "$(ratio "$(seq_us "$mode" "$impl" 102400)" "$(seq_us "$mode" unix 102400)")" "<=" 0.16667 "≤ 1/6 (0.167)"
            goal_row "sequential bridge ($name) / eventfd floor, 512 B, $mode" \
                "$(ratio "$(seq_us "$mode" "$impl" 512)" "$(seq_us "$mode" floor 512)")" "<=" 3 "≤ 3"
        done
    done
    goal_row "wrk 64 connections: bridge / plain ngx.say req/s" \
        "$(ratio "$(wrk_field ffi 64 3)" "$(wrk_field say 64 3)")" ">=" 0.8 "≥ 0.80"
    goal_row "wrk 64 connections: bridge / unix socket req/s" \
        "$(ratio "$(wrk_field ffi 64 3)" "$(wrk_field unix 64 3)")" ">" 1 "> 1"
    goal_row "worker RSS after $(mem_field last 2) calls / after $(mem_field first 2) calls" \
        "$(ratio "$(mem_field last 3)" "$(mem_field first 3)")" "<=" 1.05 "≤ 1.05"
    goal_row "live tasks after $(mem_field last 2) calls" "$(mem_field last 4)" "==" 0 "0"
    echo
}

write_sequential() {
    local mode title size r g u f
    echo "## Sequential: µs per call"
    echo
    echo "$(info n) calls in a loop inside one request (after $(( $(info n) / 10 )) warm-up calls), each"
    echo "checked to echo its payload; the median of $(info rounds) round(s), the variants interleaved."
    echo "The floor is bench-floor: two threads, two eventfds, the same three payload copies,"
    echo "ns per round trip / 1000. Unpinned: the scheduler's choice on"
    echo "$(info cores) CPUs. Pinned: nginx's worker with every runtime thread and the echo server"
    echo "(\`taskset -a -p -c 0\`), and the floor's two threads, on CPU 0."
    for mode in unpinned pinned; do
        title=$([ "$mode" = pinned ] && echo "pinned to CPU 0" || echo "unpinned")
        echo
        echo "### $title"
        echo
        echo "| payload | bridge, Rust echo | bridge, Go echo | unix socket | eventfd floor | Rust/unix | Go/unix | Rust/floor |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for size in "${SIZES[@]}"; do
            r=$(seq_us "$mode" rust "$size"); g=$(seq_us "$mode" go "$size")
            u=$(seq_us "$mode" unix "$size"); f=$(seq_us "$mode" floor "$size")
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$size")" "$r" "$g" "$u" "$f" \
                "$(ratio "$r" "$u")" "$(ratio "$g" "$u")" "$(ratio "$r" "$f")"
        done
    done
    echo
}

write_concurrent() {
    local endpoint conns desc
    echo "## Concurrent: wrk, one worker"
    echo
    echo "\`wrk -t1 -c<conns> -d$(info duration)s --latency\` on loopback$([ "$CORES" -ge 2 ] && echo ", wrk on CPU 1, nginx (all threads) and the echo server on CPU 0"). Every"
    echo "endpoint answers the same 512-byte body with \`ngx.say\`: \`/say\` from Lua, \`/ffi\` the"
    echo "bridge's echo (Rust runtime) of it, \`/unix\` the echo server's answer over a pooled cosocket."
    echo
    echo "| endpoint | connections | req/s | p50 ms | p99 ms | errors | vs ngx.say |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for endpoint in say ffi unix; do
        case $endpoint in say) desc="plain ngx.say" ;; ffi) desc="bridge echo" ;; unix) desc="unix-socket echo" ;; esac
        for conns in 1 16 64; do
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$desc" "$conns" "$(wrk_field "$endpoint" "$conns" 3)" \
                "$(wrk_field "$endpoint" "$conns" 4)" "$(wrk_field "$endpoint" "$conns" 5)" \
                "$(wrk_field "$endpoint" "$conns" 6)" \
                "$(ratio "$(wrk_field "$endpoint" "$conns" 3)" "$(wrk_field say "$conns" 3)")"
        done
    done
    echo
}

write_memory() {
    local point
    echo "## Memory: worker RSS and live tasks"
    echo
    echo "A fresh worker; sequential 512-byte calls on the Rust echo runtime in requests of at most"
    echo "100,000 calls, each ending with a full Lua GC; VmRSS from /proc/<worker>/status, live tasks"
    echo "from \`require(\"resty_ffi\").live_tasks()\`."
    echo
    echo "| after | calls | worker RSS (KiB) | live tasks |"
    echo "|---|---:|---:|---:|"
    for point in loaded first last; do
        printf '| %s | %s | %s | %s |\n' \
            "$(case $point in loaded) echo "the runtime was loaded" ;; first) echo "the first calls" ;; last) echo "all calls" ;; esac)" \
            "$(mem_field $point 2)" "$(mem_field $point 3)" "$(mem_field $point 4)"
    done
    echo
}

write_plot_data() {
    local mode size
    for mode in unpinned pinned; do
        for size in "${SIZES[@]}"; do
            printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$(seq_us "$mode" rust "$size")" "$(seq_us "$mode" go "$size")" \
                "$(seq_us "$mode" unix "$size")" "$(seq_us "$mode" floor "$size")"
        done >"$DATA/plot-seq-$mode.dat"
    done
    for conns in 1 16 64; do
        printf '%s\t%s\t%s\t%s\n' "$conns" "$(wrk_field say "$conns" 3)" "$(wrk_field ffi "$conns" 3)" \
            "$(wrk_field unix "$conns" 3)"
    done >"$DATA/plot-wrk.dat"
}

mkdir -p "$RESULTS"
{
    echo "# resty-ffi benchmark: $DATE, $CORES CPUs"
    echo
    echo "Machine: $CORES CPUs ($(info cpu)), Linux $(info kernel), nginx $(info nginx);"
    echo "load average at the start: $(info loadavg). Run: \`bash bench/run.sh\`$([ -n "$(info quick)" ] && echo " with BENCH_QUICK=1 (smoke run)")"
    echo "at $(info time) UTC, $(info n) calls per sequential row, wrk $(info duration) s per run,"
    echo "$(info mem_calls) memory calls; $(info seconds) s in all."
    [ -z "$(info go_note)" ] || { echo; echo "Note: $(info go_note)."; }
    if [ -s "$DATA/nginx-problems.txt" ]; then
        echo
        echo "nginx logged $(wc -l <"$DATA/nginx-problems.txt") alert/crit/emerg line(s) during the run."
    fi
    echo
    echo "![benchmark plot]($NAME.png)"
    echo
    write_goals
    write_sequential
    write_concurrent
    write_memory
} >"$MD"

write_plot_data
gnuplot -e "datadir='$DATA'; out='$PNG'; title='resty-ffi benchmark, $DATE, $CORES CPUs'" \
    "$BENCH_DIR/plot.gp" 2>"$DATA/gnuplot.log" ||
    { cat "$DATA/gnuplot.log" >&2; echo "[resty-ffi] error: gnuplot failed" >&2; exit 1; }

cp "$MD" "$RESULTS/latest.md"
cp "$PNG" "$RESULTS/latest.png"
echo "[resty-ffi] report: $MD, $PNG (and latest.md/latest.png)" >&2
