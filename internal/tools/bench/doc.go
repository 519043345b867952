// Package bench is the performance benchmark behind `make bench`
// (cmd/bench): the service in the variants the scenarios compare, built
// from the shipped configuration with a variant's overrides (Variant,
// Layers) and run in-process (StartService) or as a process of its own
// (StartProcess); its baselines — the bare client (Bare), the serial
// service (serial.go), the plain net/http endpoint (Plain); the loads — wrk
// driving project.lua, or catalogue.lua walking GET /projects page by
// page (Wrk), a Go client (Client), and one client at a fixed low rate
// timing its answers (Paced); the data sets (LargeRecords, SmallRecords)
// and fakes shaped like them for BenchmarkGetProject; what a run costs
// (ProcessCPU, PidCPU, ContainerCPU, ProxyCPU); TB, a testing.TB for the harnesses that take one
// (replicatest). tools.sh installs wrk and gnuplot. Results:
// docs/PERFORMANCE.md and docs/performance.png.
package bench
