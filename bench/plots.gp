# SPDX-License-Identifier: BSD-3-Clause
# plots.gp - the plots of docs/benchmarks.md: latencies from the samples
# that bench-peers and bench-handover write (NAME.dat: value in ms,
# cumulative fraction), and Redis' CPU against the elections held, from
# bench-many's table (redis-cpu.dat, which bench/run extracts: elections,
# libleader's Redis CPU %, node-leader's).
# Run by bench/run: gnuplot -e "dir='OUT'; png='DOCS/bench'" plots.gp

set terminal pngcairo size 1100,500 font "sans,10"
set logscale x
set format x "%g"
set xlabel "ms (log scale)"
set ylabel "share of runs"
set yrange [0:1.02]
set key below horizontal maxrows 1 width -2
set grid xtics ytics mxtics
set style data steps

kinds = "lib run node srl"
label(i) = i == 1 ? "libleader" : i == 2 ? "leader run" : \
           i == 3 ? "node-leader" : "safe-redis-leader"
file(what, i, ttl) = sprintf("%s/%s-%s-%d.dat", dir, what, word(kinds, i), ttl)
# A log axis has no room for zero: a sample below 0.01 ms is drawn there.
clamp(x) = x > 0.01 ? x : 0.01

do for [what in "handover failover"] {
    set output sprintf("%s/%s.png", png, what)
    set multiplot layout 1,2 title (what eq "failover" ? \
        "Failover after kill -9: from the kill to the next ELECTED" : \
        "Handover after a clean stop: to the next ELECTED")
    set title "ttl 2000 ms, wait 200 ms"
    plot for [i=1:4] file(what, i, 2000) using (clamp($1)):2 lw 2 title label(i)
    set title "ttl 10000 ms, wait 1000 ms"
    plot for [i=1:4] file(what, i, 10000) using (clamp($1)):2 lw 2 title label(i)
    unset multiplot
    unset output
}

# leader run alone (bench-handover), one curve per child, in bench/run's
# order.
child(i) = i == 1 ? "bench-stamp (static, no libc)" : \
           "bench-stamp-dyn (dynamic, glibc)"
set output sprintf("%s/run-handover.png", png)
set title "leader run: from the old child's exit to the new child's start (ttl 2000 ms, wait 200 ms)"
plot for [i=1:2] sprintf("%s/run-handover-%d.dat", dir, i) using (clamp($1)):2 lw 2 title child(i)
unset output

# Redis' CPU against the elections one process holds (bench-many
# --node-leader): what a leader costs the server, libleader's renewals in
# batches next to node-leader's GET and PEXPIRE.
unset logscale x
set format x "%.0f"
set xlabel "elections held by one process (ttl 10000 ms)"
set ylabel "Redis CPU, % of a core"
set yrange [0:*]
set xrange [0:*]
set style data linespoints
set output sprintf("%s/redis-cpu.png", png)
set title "Redis CPU against elections held, one process on one client"
plot sprintf("%s/redis-cpu.dat", dir) using 1:2 lw 2 pt 7 title "libleader", \
     "" using 1:3 lw 2 pt 5 title "node-leader"
unset output
