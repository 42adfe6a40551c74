# The benchmark plot (bench/report.sh runs it):
#   gnuplot -e "datadir='...'; out='....png'; title='...'; has_contended=1; has_modes_us=1; has_modes_cpu=1" bench/plot.gp
# (has_*=0: that panel's data has no figure, e.g. a report of older data; it says so instead)
# Top row: sequential µs per call against payload size (log-log): quiet and unpinned,
# pinned to CPU 0, contended (a spinning process beside). Bottom row: wrk req/s at 1, 16 and
# 64 connections; 512-byte calls in every mode (quiet, pinned, contended, paced at 500/s):
# µs per call and CPU µs per call.

if (!exists("has_contended")) has_contended = 1
if (!exists("has_modes_us")) has_modes_us = 1
if (!exists("has_modes_cpu")) has_modes_cpu = 1

set terminal pngcairo size 1500,1040 font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "-"
set multiplot layout 2,3 title title font "sans,12"

set logscale xy
set xlabel "payload (bytes)"
set ylabel "µs per call"
set xtics ("512" 512, "4K" 4096, "10K" 10240, "100K" 102400)
set xrange [400:130000]
set key top left
set grid

set title "sequential, quiet, unpinned"
plot datadir."/plot-seq-unpinned.dat" using 1:2 with linespoints lw 2 title "bridge, Rust echo", \
     ''                              using 1:3 with linespoints lw 2 title "bridge, Go echo", \
     ''                              using 1:4 with linespoints lw 2 title "unix socket", \
     ''                              using 1:5 with linespoints lw 2 dt 2 title "eventfd floor"

set title "sequential, pinned to CPU 0"
plot datadir."/plot-seq-pinned.dat" using 1:2 with linespoints lw 2 title "bridge, Rust echo", \
     ''                            using 1:3 with linespoints lw 2 title "bridge, Go echo", \
     ''                            using 1:4 with linespoints lw 2 title "unix socket", \
     ''                            using 1:5 with linespoints lw 2 dt 2 title "eventfd floor"

set title "sequential, contended (a spinning process beside)"
if (has_contended) {
plot datadir."/plot-seq-contended.dat" using 1:2 with linespoints lw 2 title "bridge, Rust echo", \
     ''                               using 1:3 with linespoints lw 2 title "bridge, Go echo", \
     ''                               using 1:4 with linespoints lw 2 title "unix socket", \
     ''                               using 1:5 with linespoints lw 2 dt 2 title "eventfd floor"
} else {
set label 1 "not measured in this run" at graph 0.5, 0.5 center
plot [400:130000] [1:1000] NaN notitle
unset label 1
}

unset logscale
unset xrange
set xtics auto
set title "wrk, one worker (512-byte body)"
set xlabel "connections"
set ylabel "requests per second"
set yrange [0:*]
# Headroom above the tallest bar for the key.
set offsets 0, 0, graph 0.3, 0
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
plot datadir."/plot-wrk.dat" using 2:xtic(1) title "plain ngx.say", \
     ''                     using 5 title "ngx.say after ngx.sleep(0)", \
     ''                     using 3 title "bridge echo", \
     ''                     using 4 title "unix-socket echo"

# 512 B in every mode (log scale: the modes differ by orders of magnitude).
unset xlabel
set logscale y
set yrange [0.1:*]
set offsets 0, 0, 0, 0
set key below horizontal
set title "µs per call, 512 B, every mode (paced: 500 calls/s)"
set ylabel "µs per call"
if (has_modes_us) {
plot datadir."/plot-modes.dat" using 2:xtic(1) title "bridge, Rust echo", \
     ''                       using 3 title "bridge, Go echo", \
     ''                       using 4 title "unix socket"
} else {
set label 1 "not measured in this run" at graph 0.5, 0.5 center
unset xtics
plot [0:1] [0.1:1000] NaN notitle
set xtics
unset label 1
}

set title "CPU µs per call, 512 B, every mode (paced: 500 calls/s)"
set ylabel "CPU µs per call (worker; unix: + echo server)"
if (has_modes_cpu) {
plot datadir."/plot-modes.dat" using 5:xtic(1) title "bridge, Rust echo", \
     ''                       using 6 title "bridge, Go echo", \
     ''                       using 7 title "unix socket"
} else {
set label 1 "not measured in this run" at graph 0.5, 0.5 center
unset xtics
plot [0:1] [0.1:1000] NaN notitle
set xtics
unset label 1
}

unset multiplot
