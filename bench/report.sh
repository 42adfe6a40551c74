#!/usr/bin/env bash
# Writes the benchmark report from bench/run.sh's data directory:
#   <results>/<date>-<cores>cpu.md and .png, and copies as latest.md / latest.png.
#
#   bash bench/report.sh <data dir> <results dir>
#
# Data (tab-separated, "-" = not measured):
#   seq.tsv   mode impl size us_per_call cpu_us_per_call worker_cpu_ns echo_cpu_ns
#             worker_ticks echo_ticks calls
#             (mode: unpinned|pinned|contended|paced; impl: rust|go|unix|floor; one line per
#             round; cpu_us_per_call: worker CPU, plus the echo server's for unix, per call;
#             floor: the process's CPU per round trip, raw columns "-"; data of older runs
#             has only the first four columns)
#   paced.tsv impl size p50_us p99_us max_us rate_per_s late wall_ms   (one line per round;
#             impl none: the paced loop without a call; its seq.tsv lines have mode paced)
#   idle.tsv  point wall_ns worker_cpu_ns echo_cpu_ns worker_ticks echo_ticks
#             (point: loaded|after)
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

# The median of the numbers on stdin (one a line), 3 decimals, or "-" if none.
median() {
    sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) print "-"
            else if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
            else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# One figure of seq.tsv (column col) for mode/impl/size: the median over the rounds.
seq_col() {   # mode impl size col
    [ -f "$DATA/seq.tsv" ] || { echo -; return; }
    awk -F'\t' -v m="$1" -v i="$2" -v s="$3" -v c="$4" \
        '$1 == m && $2 == i && $3 == s && $c != "-" && $c != "" { print $c }' "$DATA/seq.tsv" | median
}
seq_us() { seq_col "$1" "$2" "$3" 4; }    # µs per call
seq_cpu() { seq_col "$1" "$2" "$3" 5; }   # CPU µs per call
# The echo server's share of a row's CPU µs per call (median over the rounds).
seq_echo_cpu() {
    [ -f "$DATA/seq.tsv" ] || { echo -; return; }
    awk -F'\t' -v m="$1" -v i="$2" -v s="$3" '$1 == m && $2 == i && $3 == s && $7 ~ /^[0-9]+$/ && $10 + 0 > 0 {
        print $7 / $10 / 1000 }' "$DATA/seq.tsv" | median
}
# One figure of paced.tsv (column col) for impl/size: the median over the rounds.
paced_col() {   # impl size col
    [ -f "$DATA/paced.tsv" ] || { echo -; return; }
    awk -F'\t' -v i="$1" -v s="$2" -v c="$3" '$1 == i && $2 == s && $c != "-" && $c != "" { print $c }' \
        "$DATA/paced.tsv" | median
}
idle_field() { [ -f "$DATA/idle.tsv" ] && awk -F'\t' -v p="$1" -v f="$2" '$1 == p { v = $f } END { print (v == "" ? "-" : v) }' "$DATA/idle.tsv" || echo -; }
# Whether this data has the CPU columns (older runs do not).
has_cpu() { [ -f "$DATA/seq.tsv" ] && awk -F'\t' 'NF >= 10 { found = 1 } END { exit !found }' "$DATA/seq.tsv"; }
# One figure of wrk.tsv for endpoint/conns: the median over the rounds (errors: their sum).
wrk_field() {
    if [ "$3" = 6 ]; then
        awk -F'\t' -v e="$1" -v c="$2" '$1 == e && $2 == c { n += $6; seen = 1 } END { print (seen ? n : "-") }' "$DATA/wrk.tsv"
        return
    fi
    awk -F'\t' -v e="$1" -v c="$2" -v f="$3" '$1 == e && $2 == c && $f != "-" && $f != "" { print $f }' \
        "$DATA/wrk.tsv" | median | sed 's/\.000$//'
}
mem_field() { awk -F'\t' -v p="$1" -v f="$2" '$1 == p { v = $f } END { print (v == "" ? "-" : v) }' "$DATA/mem.tsv"; }

# a / b with 3 decimals, or "-".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
# "yes"/"no"/"n/a": value <op> limit
check() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "-") { print "n/a"; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (op == ">=") ? (v + 0 >= l + 0) : (op == ">") ? (v + 0 > l + 0) : (v + 0 == l + 0)
    print (ok ? "**yes**" : "no") }'; }
label() { case $1 in 512) echo "512 B" ;; 4096) echo "4 KB" ;; 10240) echo "10 KB" ;; 102400) echo "100 KB" ;; *) echo "$1 B" ;; esac; }
mode_title() {
    case $1 in
        unpinned) echo "quiet, unpinned" ;;
        pinned) echo "pinned to CPU 0" ;;
        contended) echo "contended (a spinner beside)" ;;
        paced) echo "paced, $(( 1000000 / $(info paced_interval_us) )) calls/s" ;;
        *) echo "$1" ;;
    esac
}
# Has a row of this mode and impl any figure?
has_rows() { [ -f "$DATA/seq.tsv" ] && awk -F'\t' -v m="$1" -v i="$2" '$1 == m && $2 == i && $4 != "-" { found = 1 } END { exit !found }' "$DATA/seq.tsv"; }
busy_share() {
    local v
    v=$(info busy_cpu_share)
    [ -n "$v" ] && [ "$v" != - ] && awk -v v="$v" 'BEGIN { printf "%.0f %%", v * 100 }' || echo "an unknown share"
}

goal_row() {   # issue description measured op limit target-text
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$6" "$(check "$3" "$4" "$5")"
}

write_goals() {
    local mode impl name paced_size
    paced_size=$(paced_size)
    echo "## Goals"
    echo
    echo "Ratios between variants measured in this run (the machine may be noisy; the ratios are"
    echo "what count). socket/bridge: the unix socket's µs per call over the bridge's (Rust echo)."
    echo
    echo "| issue | goal | measured | target | met |"
    echo "|---|---|---|---|---|"
    goal_row "13" "quiet, 512 B: socket/bridge" \
        "$(ratio "$(seq_us unpinned unix 512)" "$(seq_us unpinned rust 512)")" ">=" 40 "≥ 40"
    goal_row "13" "quiet, 100 KB: socket/bridge" \
        "$(ratio "$(seq_us unpinned unix 102400)" "$(seq_us unpinned rust 102400)")" ">=" 6 "≥ 6"
    goal_row "13" "pinned to one CPU, 512 B: socket/bridge" \
        "$(ratio "$(seq_us pinned unix 512)" "$(seq_us pinned rust 512)")" ">=" 3 "≥ 3"
    goal_row "13" "contended (a busy process beside), 512 B: socket/bridge" \
        "$(ratio "$(seq_us contended unix 512)" "$(seq_us contended rust 512)")" ">=" 3 "≥ 3"
    goal_row "13" "contended, 100 KB: socket/bridge" \
        "$(ratio "$(seq_us contended unix 102400)" "$(seq_us contended rust 102400)")" ">=" 6 "≥ 6"
    goal_row "13" "paced, CPU µs per call: bridge / socket (pacing included)" \
        "$(ratio "$(seq_cpu paced rust "$paced_size")" "$(seq_cpu paced unix "$paced_size")")" "<=" 1 "≤ 1"
    goal_row "13" "paced, CPU µs per call, pacing included: bridge" \
        "$(seq_cpu paced rust "$paced_size")" "<=" 40 "≤ 40"
    goal_row "13" "paced, CPU µs per call, the call's own (minus the pacing alone): bridge" \
        "$(awk -v a="$(seq_cpu paced rust "$paced_size")" -v b="$(seq_cpu paced none "$paced_size")" \
            'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.3f", a - b }')" "<=" 40 "≤ 40"
    goal_row "13" "idle (runtimes loaded, no calls): worker CPU ms in $(info idle_seconds) s" \
        "$(awk -v v="$(idle_field after 3)" 'BEGIN { if (v == "-") print "-"; else printf "%.3f", v / 1e6 }')" "<=" 0 "0"
    goal_row "13" "wrk 64 connections: bridge / plain ngx.say req/s" \
        "$(ratio "$(wrk_field ffi 64 3)" "$(wrk_field say 64 3)")" ">=" 0.9 "≥ 0.90"
    goal_row "13" "(reference) wrk 64: ngx.say after a bare yield (ngx.sleep(0)) / plain ngx.say" \
        "$(ratio "$(wrk_field yield 64 3)" "$(wrk_field say 64 3)")" ">=" 0.9 "≥ 0.90"
    goal_row "6" "wrk 64 connections: bridge / unix socket req/s" \
        "$(ratio "$(wrk_field ffi 64 3)" "$(wrk_field unix 64 3)")" ">" 1 "> 1"
    goal_row "17" "wrk 64 connections: telemetry on / off req/s" \
        "$(ratio "$(wrk_field ffi 64 3)" "$(wrk_field ffi_notel 64 3)")" ">=" 0.98 "≥ 0.98"
    goal_row "6" "worker RSS after $(mem_field last 2) calls / after $(mem_field first 2) calls" \
        "$(ratio "$(mem_field last 3)" "$(mem_field first 3)")" "<=" 1.05 "≤ 1.05"
    goal_row "6" "live tasks after $(mem_field last 2) calls" "$(mem_field last 4)" "==" 0 "0"
    echo
}

# The table of every mode side by side: µs and CPU µs per call, socket/bridge ratios.
write_modes() {
    local mode size impl name sizes bu bc uu uc
    echo "## Every mode: µs and CPU µs per call, $CORES CPUs"
    echo
    echo "All from this one run, on $CORES CPUs ($(info cpu)). **µs/call**: wall-clock time of a call as"
    echo "the Lua caller sees it. **CPU µs/call**: CPU time (user + system, all threads) spent during"
    echo "the measured calls divided by their number, of the nginx worker with its runtime threads,"
    echo "plus the echo server's for the unix socket. **socket/bridge**: the unix socket's figure"
    echo "divided by the bridge's (above 1: the bridge is cheaper). Modes: *quiet, unpinned* (nothing"
    echo "else of ours running); *pinned*: worker, runtime threads and echo server on CPU 0$(
        has_rows contended rust && printf ';\n*contended*: unpinned while `bench-busy` spins on the machine (it got %s of a\nCPU meanwhile)' "$(busy_share)")$(
        has_rows paced rust && printf ';\n*paced*: one %s call every %s µs, unpinned, µs/call timing the call alone,\nCPU µs/call including the idle time between calls' "$(label "$(paced_size)")" "$(info paced_interval_us)")."
    echo "Medians of $(info rounds) round(s)."
    if ! has_cpu; then
        echo
        echo "(This data was recorded before CPU time was measured: CPU columns are \"-\".)"
    fi
    echo
    echo "| mode | payload | bridge | bridge µs/call | bridge CPU µs/call | unix µs/call | unix CPU µs/call | socket/bridge µs | socket/bridge CPU |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    for mode in unpinned pinned contended paced; do
        if [ "$mode" = paced ]; then sizes=("$(paced_size)"); else sizes=("${SIZES[@]}"); fi
        for size in "${sizes[@]}"; do
            for impl in rust go; do
                has_rows "$mode" "$impl" || continue
                name=$([ "$impl" = rust ] && echo "Rust echo" || echo "Go echo")
                bu=$(seq_us "$mode" "$impl" "$size"); bc=$(seq_cpu "$mode" "$impl" "$size")
                uu=$(seq_us "$mode" unix "$size"); uc=$(seq_cpu "$mode" unix "$size")
                printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(mode_title "$mode")" "$(label "$size")" \
                    "$name" "$bu" "$bc" "$uu" "$uc" "$(ratio "$uu" "$bu")" "$(ratio "$uc" "$bc")"
            done
        done
    done
    echo
}

# The size of the paced rows (the first one recorded), 512 if none.
paced_size() {
    local v
    v=$([ -f "$DATA/paced.tsv" ] && awk -F'\t' 'NR == 1 { print $2 }' "$DATA/paced.tsv")
    echo "${v:-512}"
}

write_sequential() {
    local mode size r g u f
    echo "## Sequential: µs and CPU µs per call"
    echo
    echo "$(info n) calls in a loop inside one request (after $(( $(info n) / 10 )) warm-up calls), each"
    echo "checked to echo its payload; the median of $(info rounds) round(s), the variants interleaved."
    echo "The floor is bench-floor: two threads, two eventfds, the same three payload copies,"
    echo "ns per round trip / 1000. Unpinned: the scheduler's choice on"
    echo "$(info cores) CPUs. Pinned: nginx's worker with every runtime thread and the echo server"
    echo "(\`taskset -a -p -c 0\`), and the floor's two threads, on CPU 0. Contended: unpinned, while"
    echo "\`bench-busy\` (one thread spinning, unpinned, started before and killed after these rows)"
    echo "competes for the $(info cores) CPUs; it got $(busy_share) of a CPU."
    echo
    echo "CPU µs per call: the CPU time (user + system, every thread) consumed during the timed"
    echo "calls, divided by their number: the nginx worker's (runtime threads included) for the"
    echo "bridge, the worker's plus the echo server's for the unix socket (the server's part shown"
    echo "apart), bench-floor's whole process for the floor. Read from each process's CPU-time"
    echo "clock (\`clock_getcpuclockid\`), the sum \`/proc/<pid>/stat\` reports as utime + stime, in ns"
    echo "rather than $(clk_ms) ms ticks. CPU above µs per call: more than one thread of ours ran at"
    echo "once (e.g. a poller spinning on the other side); below: part of the time none of ours ran"
    echo "(all waiting for a wake-up or, contended, for a CPU)."
    for mode in unpinned pinned contended; do
        has_rows "$mode" rust || has_rows "$mode" unix || continue
        echo
        echo "### $(mode_title "$mode"): µs per call"
        echo
        echo "| payload | bridge, Rust echo | bridge, Go echo | unix socket | eventfd floor | Rust/unix | Go/unix | Rust/floor |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for size in "${SIZES[@]}"; do
            r=$(seq_us "$mode" rust "$size"); g=$(seq_us "$mode" go "$size")
            u=$(seq_us "$mode" unix "$size"); f=$(seq_us "$mode" floor "$size")
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$size")" "$r" "$g" "$u" "$f" \
                "$(ratio "$r" "$u")" "$(ratio "$g" "$u")" "$(ratio "$r" "$f")"
        done
        has_cpu || continue
        echo
        echo "### $(mode_title "$mode"): CPU µs per call"
        echo
        echo "| payload | bridge, Rust echo | bridge, Go echo | unix socket (worker + server) | of which echo server | eventfd floor | unix/Rust | unix/Go |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        for size in "${SIZES[@]}"; do
            r=$(seq_cpu "$mode" rust "$size"); g=$(seq_cpu "$mode" go "$size")
            u=$(seq_cpu "$mode" unix "$size"); f=$(seq_cpu "$mode" floor "$size")
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$size")" "$r" "$g" "$u" \
                "$(seq_echo_cpu "$mode" unix "$size")" "$f" "$(ratio "$u" "$r")" "$(ratio "$u" "$g")"
        done
    done
    echo
    write_cpu_crosscheck
}

clk_ms() { local t; t=$(info clk_tck); awk -v t="${t:-100}" 'BEGIN { printf "%g", 1000 / t }'; }

# The clock-based CPU figures against /proc/<pid>/stat's utime + stime, summed over all rows.
write_cpu_crosscheck() {
    has_cpu || return 0
    awk -F'\t' -v ms="$(clk_ms)" '
        $6 ~ /^[0-9]+$/ && $8 ~ /^[0-9]+$/ { wn += $6; wt += $8; rows++ }
        $7 ~ /^[0-9]+$/ && $9 ~ /^[0-9]+$/ { en += $7; et += $9 }
        END { if (rows) printf "Cross-check over the %d bridge, unix and paced rows: the worker'"'"'s CPU by its clock %.0f ms,\nby /proc/<pid>/stat utime + stime %d ticks (%.0f ms); the echo server'"'"'s %.0f ms and %d ticks (%.0f ms).\n\n",
            rows, wn / 1e6, wt, wt * ms, en / 1e6, et, et * ms }' "$DATA/seq.tsv"
}

write_deadline_cost() {
    has_rows deadline rust || return 0
    echo "## What a deadline costs a call (issue 16)"
    echo
    echo "The Rust echo, 512 B, sequential and unpinned, $(info n) calls a row, the median of"
    echo "$(info rounds) round(s), the variants interleaved: with the call's timeout (the module stores"
    echo "its deadline in the task for the runtime to read, as in every row above) and with"
    echo "\`timeout = 0\` (no timeout, no deadline)."
    echo
    echo "| calls | µs/call | CPU µs/call |"
    echo "|---|---:|---:|"
    echo "| with a timeout (deadline) | $(seq_us deadline rust 512) | $(seq_cpu deadline rust 512) |"
    echo "| without | $(seq_us deadline rust_nodl 512) | $(seq_cpu deadline rust_nodl 512) |"
    echo
}

write_paced() {
    local impl name size
    [ -f "$DATA/paced.tsv" ] || return 0
    size=$(paced_size)
    echo "## Paced: $(( 1000000 / $(info paced_interval_us) )) calls/s"
    echo
    echo "One $(label "$size") call every $(info paced_interval_us) µs on an absolute schedule (the request sleeps with"
    echo "\`ngx.sleep\` until each call is due), $(info paced_n) measured calls after a warm-up of $(( $(info paced_n) / 20 )),"
    echo "unpinned, nothing else of ours running; the median of $(info rounds) round(s). Latency is the call"
    echo "alone (clock read before and after it), not the sleep. CPU µs per call: the worker's CPU"
    echo "(runtime threads included; plus the echo server's for unix) over the whole paced stretch,"
    echo "sleeps included, divided by the number of calls: what a call costs the machine at this rate,"
    echo "with every wake-up and poll around it. \"pacing alone\": the same loop and sleeps without"
    echo "a call, so the calls' own share is the difference. \"% of a CPU\": CPU µs per call / interval."
    echo "\"late\": times the next call would have started more than one interval after it was due (a"
    echo "timer or a call that ran long), so the schedule restarted from there instead of bursting."
    echo
    echo "| backend | µs/call (mean) | p50 µs | p99 µs | max µs | CPU µs/call | % of a CPU | of which echo server | calls/s achieved | late |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for impl in rust go unix none; do
        has_rows paced "$impl" || continue
        case $impl in rust) name="bridge, Rust echo" ;; go) name="bridge, Go echo" ;; unix) name="unix socket" ;;
            none) name="pacing alone (no call)" ;; esac
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$(seq_us paced "$impl" "$size")" \
            "$(paced_col "$impl" "$size" 3)" "$(paced_col "$impl" "$size" 4)" "$(paced_col "$impl" "$size" 5)" \
            "$(seq_cpu paced "$impl" "$size")" \
            "$(awk -v c="$(seq_cpu paced "$impl" "$size")" -v i="$(info paced_interval_us)" 'BEGIN {
                if (c == "-" || i + 0 == 0) print "-"; else printf "%.2f", c / i * 100 }')" \
            "$([ "$impl" = unix ] && seq_echo_cpu paced unix "$size" || echo "")" \
            "$(paced_col "$impl" "$size" 6 | awk '{ if ($1 == "-") print; else printf "%.1f\n", $1 }')" \
            "$(paced_col "$impl" "$size" 7 | awk '{ if ($1 == "-") print; else printf "%.0f\n", $1 }')"
    done
    echo
}

write_idle() {
    local point
    [ -f "$DATA/idle.tsv" ] || return 0
    echo "## Idle: CPU with the runtimes loaded and no calls"
    echo
    echo "Nothing talks to nginx for $(info idle_seconds) s (after a 0.5 s pause): the CPU time the worker (both"
    echo "runtimes loaded, their threads started; all threads counted) and the echo server consume"
    echo "meanwhile, by their CPU-time clocks (and by /proc/<pid>/stat ticks of $(clk_ms) ms)."
    echo
    echo "| when | seconds | worker CPU ms | worker, % of one CPU | worker ticks | echo server CPU ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    for point in loaded after; do
        awk -v p="$point" -v t="$(idle_field "$point" 2)" -v w="$(idle_field "$point" 3)" \
            -v wt="$(idle_field "$point" 5)" -v e="$(idle_field "$point" 4)" 'BEGIN {
            if (t == "-") exit
            d = (p == "loaded") ? "after the warm-up (one call on each runtime)" : "after the sequential and paced rows"
            printf "| %s | %.2f | %s | %s | %s | %s |\n", d, t / 1e9,
                (w == "-") ? "-" : sprintf("%.3f", w / 1e6), (w == "-") ? "-" : sprintf("%.3f", w / t * 100),
                wt, (e == "-") ? "-" : sprintf("%.3f", e / 1e6) }'
    done
    echo
}

write_concurrent() {
    local endpoint conns desc
    echo "## Concurrent: wrk, one worker"
    echo
    echo "\`wrk -t1 -c<conns> -d$(info duration)s --latency\`, $(info rounds) round(s) (medians; errors: their sum), on loopback$([ "$CORES" -ge 2 ] && echo ", wrk on CPU 1, nginx (all threads) and the echo server on CPU 0"). Every"
    echo "endpoint answers the same 512-byte body with \`ngx.say\`: \`/say\` from Lua (\`/yield\`: after one"
    echo "yield of the request's coroutine, \`ngx.sleep(0)\`, what any call that waits pays), \`/ffi\` the"
    echo "bridge's echo (Rust runtime) of it (\`/ffi_notel\`: the same with the module's telemetry"
    echo "off), \`/unix\` the echo server's answer over a pooled cosocket."
    echo
    echo "| endpoint | connections | req/s | p50 ms | p99 ms | errors | vs ngx.say |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for endpoint in say yield ffi ffi_notel unix; do
        case $endpoint in say) desc="plain ngx.say" ;; yield) desc="ngx.say after ngx.sleep(0)" ;; ffi) desc="bridge echo" ;; ffi_notel) desc="bridge echo, telemetry off" ;; unix) desc="unix-socket echo" ;; esac
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
    for mode in unpinned pinned contended; do
        for size in "${SIZES[@]}"; do
            printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$(seq_us "$mode" rust "$size")" "$(seq_us "$mode" go "$size")" \
                "$(seq_us "$mode" unix "$size")" "$(seq_us "$mode" floor "$size")"
        done >"$DATA/plot-seq-$mode.dat"
    done
    for conns in 1 16 64; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$conns" "$(wrk_field say "$conns" 3)" "$(wrk_field ffi "$conns" 3)" \
            "$(wrk_field unix "$conns" 3)" "$(wrk_field yield "$conns" 3)"
    done >"$DATA/plot-wrk.dat"
    # 512 B in every mode: mode, µs per call (Rust, Go, unix), CPU µs per call (Rust, Go, unix).
    for mode in unpinned pinned contended paced; do
        size=512
        [ "$mode" = paced ] && size=$(paced_size)
        printf '"%s"\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(case $mode in unpinned) echo quiet ;; *) echo "$mode" ;; esac)" \
            "$(seq_us "$mode" rust "$size")" "$(seq_us "$mode" go "$size")" "$(seq_us "$mode" unix "$size")" \
            "$(seq_cpu "$mode" rust "$size")" "$(seq_cpu "$mode" go "$size")" "$(seq_cpu "$mode" unix "$size")"
    done >"$DATA/plot-modes.dat"
}

mkdir -p "$RESULTS"
{
    echo "# resty-ffi benchmark: $DATE, $CORES CPUs"
    echo
    echo "Machine: $CORES CPUs ($(info cpu)), Linux $(info kernel), nginx $(info nginx);"
    echo "load average at the start: $(info loadavg). Run: \`bash bench/run.sh\`$([ -n "$(info quick)" ] && echo " with BENCH_QUICK=1 (smoke run)")"
    echo "at $(info time) UTC, $(info n) calls per sequential row, wrk $(info duration) s per run,"
    echo "$(info mem_calls) memory calls$([ -n "$(info paced_n)" ] && echo ", $(info paced_n) calls per paced row"); $(info seconds) s in all."
    [ -z "$(info go_note)" ] || { echo; echo "Note: $(info go_note)."; }
    if [ -s "$DATA/nginx-problems.txt" ]; then
        echo
        echo "nginx logged $(wc -l <"$DATA/nginx-problems.txt") alert/crit/emerg line(s) during the run."
    fi
    echo
    echo "![benchmark plot]($NAME.png)"
    echo
    write_modes
    write_goals
    write_sequential
    write_deadline_cost
    write_paced
    write_idle
    write_concurrent
    write_memory
} >"$MD"

# 1 if columns from..to of a plot data file hold any number, else 0.
has_figures() { awk -F'\t' -v a="$2" -v b="$3" '{ for (i = a; i <= b; i++) if ($i ~ /^[0-9.]+$/) found = 1 }
    END { print found ? 1 : 0 }' "$1"; }

write_plot_data
gnuplot -e "datadir='$DATA'; out='$PNG'; title='resty-ffi benchmark, $DATE, $CORES CPUs'; has_contended=$(has_figures "$DATA/plot-seq-contended.dat" 2 5); has_modes_us=$(has_figures "$DATA/plot-modes.dat" 2 4); has_modes_cpu=$(has_figures "$DATA/plot-modes.dat" 5 7)" \
    "$BENCH_DIR/plot.gp" 2>"$DATA/gnuplot.log" ||
    { cat "$DATA/gnuplot.log" >&2; echo "[resty-ffi] error: gnuplot failed" >&2; exit 1; }

cp "$MD" "$RESULTS/latest.md"
cp "$PNG" "$RESULTS/latest.png"
echo "[resty-ffi] report: $MD, $PNG (and latest.md/latest.png)" >&2
