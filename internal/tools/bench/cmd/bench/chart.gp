set terminal pngcairo size 1100,900 enhanced font "DejaVu Sans,11"
set output {{printf "%q" .PNG}}
set datafile commentschars "#"
set multiplot layout 2,1 title {{printf "%q" .Title}} font "DejaVu Sans,12"
set logscale x 2
set xrange [12:340]
set xtics ("16" 16, "64" 64, "256" 256)
set grid xtics ytics mytics
set key top left box opaque
set tmargin 2
set lmargin 12
set rmargin 4
set ylabel "latency (ms, log scale)"
set logscale y
set format y "%g"
plot {{printf "%q" .Data}} using 1:2 with linespoints lw 2 pt 7 ps 1.3 lc rgb "#1f77b4" title "p50, {{.Defaults}}", \
     '' using 1:3 with linespoints lw 2 pt 5 ps 1.3 lc rgb "#d62728" title "p99, {{.Defaults}}", \
     '' using 1:5 with linespoints lw 2 dt 2 pt 6 ps 1.3 lc rgb "#1f77b4" title "p50, {{.GoZero}}", \
     '' using 1:6 with linespoints lw 2 dt 2 pt 4 ps 1.3 lc rgb "#d62728" title "p99, {{.GoZero}}", \
     '' using 1:3:(sprintf("%.1f", $3)) with labels offset 0,1 tc rgb "#d62728" notitle, \
     '' using 1:2:(sprintf("%.1f", $2)) with labels offset 0,-1 tc rgb "#1f77b4" notitle
unset logscale y
set ylabel "throughput (requests/s)"
set xlabel "concurrent clients (wrk connections)"
set yrange [0:*]
set key bottom right box opaque
plot {{printf "%q" .Data}} using 1:4 with linespoints lw 2 pt 7 ps 1.3 lc rgb "#2ca02c" title "{{.Defaults}}", \
     '' using 1:7 with linespoints lw 2 dt 2 pt 6 ps 1.3 lc rgb "#9467bd" title "{{.GoZero}}", \
     '' using 1:4:(sprintf("%.0f", $4)) with labels offset 0,1 tc rgb "#2ca02c" notitle
unset multiplot
