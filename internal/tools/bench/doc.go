// Package bench is the performance benchmark behind `make bench`
// (cmd/bench): a reproducible generated data set loaded into a throwaway
// database (Dataset), the service started in-process in the variants the
// scenarios compare (StartService), the HTTP load (Wrk, driving wrk with
// project.lua), a bare Go client for the ceiling (Bare), and fakes shaped
// like the data set for BenchmarkGetProject. tools.sh installs wrk and
// gnuplot. Results: docs/PERFORMANCE.md and docs/performance.png.
package bench
