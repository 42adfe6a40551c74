# The benchmark plot (bench/report.sh runs it):
#   gnuplot -e "datadir='...'; out='....png'; title='...'" bench/plot.gp
# Left and middle: sequential µs per call against payload size (log-log), unpinned and
# pinned to CPU 0. Right: wrk req/s at 1, 16 and 64 connections.

set terminal pngcairo size 1500,520 font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "-"
set multiplot layout 1,3 title title font "sans,12"

set logscale xy
set xlabel "payload (bytes)"
set ylabel "µs per call"
set xtics ("512" 512, "4K" 4096, "10K" 10240, "100K" 102400)
set xrange [400:130000]
set key top left
set grid

set title "sequential, unpinned"
plot datadir."/plot-seq-unpinned.dat" using 1:2 with linespoints lw 2 title "bridge, Rust echo", \
     ''                              using 1:3 with linespoints lw 2 title "bridge, Go echo", \
     ''                              using 1:4 with linespoints lw 2 title "unix socket", \
     ''                              using 1:5 with linespoints lw 2 dt 2 title "eventfd floor"

set title "sequential, pinned to CPU 0"
plot datadir."/plot-seq-pinned.dat" using 1:2 with linespoints lw 2 title "bridge, Rust echo", \
     ''                            using 1:3 with linespoints lw 2 title "bridge, Go echo", \
     ''                            using 1:4 with linespoints lw 2 title "unix socket", \
     ''                            using 1:5 with linespoints lw 2 dt 2 title "eventfd floor"

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
     ''                     using 3 title "bridge echo", \
     ''                     using 4 title "unix-socket echo"

unset multiplot
