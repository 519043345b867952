// Helpers for packages that run servers of their own through StartWith
// (internal/testing/replicatest): the Docker check, labels, quiet pools.

package dbtest

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"
)

// Labels are the labels dbtest puts on its containers: projectsvc.dbtest=1,
// this machine's host name and this process's PID. Resources carrying them
// are recognised as leftovers by Orphaned once this process has exited.
func Labels() map[string]string {
	hostname, _ := os.Hostname()
	return map[string]string{
		labelKey:  "1",
		labelHost: hostname,
		labelPID:  strconv.Itoa(os.Getpid()),
	}
}

// Orphaned reports whether labels (of a container, network, ...) are Labels
// of a test process on this machine that no longer runs: a leftover of a
// crashed, killed or timed-out test binary, safe to remove.
func Orphaned(labels map[string]string) bool {
	hostname, err := os.Hostname()
	if err != nil || labels[labelKey] != "1" || labels[labelHost] != hostname {
		return false
	}
	pid, err := strconv.Atoi(labels[labelPID])
	return err == nil && pid != os.Getpid() && !processAlive(pid)
}

// RequireDocker skips t when no Docker daemon is reachable, or fails it when
// CI=true (as Main does for a whole test binary), and otherwise prepares
// testcontainers as Start does (Ryuk disabled when its image is absent). Use
// it before creating Docker resources without Start, e.g. a network.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reason := prepareDocker(ctx)
	switch {
	case reason == "":
	case ciMode():
		t.Fatalf("dbtest: no Docker daemon, and CI=true forbids skipping the integration tests: %s", reason)
	default:
		t.Skip("dbtest: no Docker daemon, integration test skipped: " + reason)
	}
}

// OpenQuiet opens a pool for dsn with go-sql-driver's logger silenced, for
// harness code that expects broken connections (servers starting, killed or
// cut off) and reports errors itself.
func OpenQuiet(dsn string) (*sql.DB, error) {
	return open(dsn)
}
