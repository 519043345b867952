// Package soak holds the service's soak test: the real server over one real
// pool against a MySQL-compatible database in a container (internal/testing/dbtest),
// eight concurrent clients for about 45 seconds, and a database outage in
// the middle (the container is stopped, then resumed).
//
// It checks that every record served is the correct, whole record; that
// errors are only 503 unavailable / 504 timeout, and only while the
// database is down; that the service recovers by itself once the database
// is back; and that afterwards the pool, the goroutines and the memory are
// back where they were before the load. Per phase (before / outage / after)
// it logs a table of answers by status and p50/p99 latencies.
//
// The test carries the build tag "soak", so `go test ./...` does not run it:
//
//	DBTEST_IMAGE=projectsvc-mariadb:10.11 go test -tags soak -race -count=1 -run Soak -v ./internal/integration/soak/
//
// SOAK_SEED=<n> replays the data set and the request sequence of a run
// (each run logs its seed).
package soak
