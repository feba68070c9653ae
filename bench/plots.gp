# Plots of the benchmark results; run by bench/run.sh in the results
# directory, on the .dat files summarize.py writes. Log axes throughout.
set terminal pngcairo size 900,560 font "DejaVu Sans,11"
set datafile missing "nan"
set datafile separator whitespace
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top left box opaque
set logscale xy

set output "blackout-size.png"
set title "Blackout vs memfd size (touched): luo update vs CRIU dump + restore"
set xlabel "memfd size (MiB)"
set ylabel "blackout (ms)"
plot "blackout-size.dat" using 1:2 with linespoints lw 2 pt 7 title "luo: FREEZE -> workload has memfd", \
     "" using 1:4 with linespoints lw 1 pt 6 dt 2 title "luo: luod FREEZE -> successor serves", \
     "" using 1:3 with linespoints lw 2 pt 5 title "CRIU dump + restore", \
     "" using 1:5 with linespoints lw 1 pt 4 dt 2 title "CRIU dump", \
     "" using 1:6 with linespoints lw 1 pt 4 dt 3 title "CRIU restore", \
     "" using 1:7 with linespoints lw 2 pt 13 lc rgb "black" title "floor: the memfd to a fresh process and back"

set output "blackout-fds.png"
set title "Blackout of luoctl update vs preserved fds, by phase"
set xlabel "preserved fds"
set ylabel "ms"
set key top left box opaque font ",9"
plot "blackout-fds-memfd.dat" using 1:9 with linespoints lw 2 pt 7 lc 1 title "memfd: workload blackout", \
     "" using 1:8 with linespoints lw 1 pt 6 lc 1 dt 2 title "memfd: luod blackout", \
     "" using 1:3 with linespoints lw 1 pt 1 lc 3 title "memfd: freeze", \
     "" using 1:4 with linespoints lw 1 pt 2 lc 4 title "memfd: FDT write", \
     "" using 1:5 with linespoints lw 1 pt 3 lc 5 title "memfd: exec", \
     "" using 1:6 with linespoints lw 1 pt 8 lc 6 title "memfd: FDT parse", \
     "" using 1:7 with linespoints lw 1 pt 10 lc 7 title "memfd: retrieve", \
     "blackout-fds-socket.dat" using 1:9 with linespoints lw 2 pt 5 lc 2 title "socket: workload blackout", \
     "" using 1:8 with linespoints lw 1 pt 4 lc 2 dt 2 title "socket: luod blackout", \
     "blackout-fds-memfd.dat" using 1:12 with linespoints lw 2 pt 13 lc rgb "black" title "floor (memfds): to a fresh process and back", \
     "blackout-fds-memfd.dat" using 1:($12*2) with lines lc rgb "red" dt 3 title "target: 2x the floor (memfds)"

set output "throughput.png"
set title "Preserve + retrieve throughput"
set xlabel "fds per run"
set ylabel "fds/s"
set key bottom right box opaque font ",9"
plot "throughput.dat" using 1:3 with linespoints lw 2 pt 7 lc 1 title "luo batch", \
     "" using 1:2 with linespoints lw 1 pt 6 lc 1 dt 2 title "luo single", \
     "" using 1:5 with linespoints lw 2 pt 5 lc 2 title "s6-fdholder batch", \
     "" using 1:4 with linespoints lw 1 pt 4 lc 2 dt 2 title "s6-fdholder single", \
     "" using 1:7 with linespoints lw 2 pt 9 lc 3 title "UNIX socket batch", \
     "" using 1:6 with linespoints lw 1 pt 8 lc 3 dt 2 title "UNIX socket single", \
     "" using 1:8 with linespoints lw 2 pt 13 lc rgb "black" title "floor: to a fresh process and back", \
     "" using 1:($8/2) with lines lc rgb "red" dt 3 title "target: half the floor's rate"

set output "footprint.png"
set title "Daemon RSS vs fds held"
set xlabel "fds held"
set ylabel "VmRSS (KiB)"
set key top left box opaque
plot "footprint.dat" using 1:2 with linespoints lw 2 pt 7 title "luod, memfds", \
     "" using 1:3 with linespoints lw 2 pt 5 title "luod, sockets", \
     "" using 1:4 with linespoints lw 2 pt 9 title "s6-fdholderd, memfds", \
     4096 + 0.25 * x with lines lc rgb "red" dt 3 title "target: 4 MiB + 256 B per fd"
