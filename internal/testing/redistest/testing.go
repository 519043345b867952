// What tests call: Start (a server of the test's own), and Shared with
// Main/Run (one server per test binary).

package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Start starts a Redis server for t alone and removes it when t ends (and on
// SIGINT/SIGTERM). Its faults (Kill, Pause, Restart) touch no other test.
// Without a Docker daemon t is skipped, or failed when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout+opTimeout)
	defer cancel()
	s, err := StartContext(ctx)
	if err != nil {
		skipOrFail(t, err)
	}
	register(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := s.Terminate(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// skipOrFail ends t for a StartContext error: a skip when Docker is
// unavailable (a failure when CI=true), else a failure.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	var nd *noDockerError
	switch {
	case !errors.As(err, &nd):
		t.Fatal(err)
	case ciMode():
		t.Fatalf("redistest: no Docker daemon, and CI=true forbids skipping the Redis tests: %s", nd.reason)
	default:
		t.Skip("redistest: no Docker daemon, Redis test skipped: " + nd.reason)
	}
}

func ciMode() bool {
	v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv("CI")))
	return err == nil && v
}

// shared is the test binary's server: started by the first Shared call,
// removed when Run's tests are over.
var shared struct {
	mu      sync.Mutex
	managed bool // inside Run
	srv     *Server
	err     error // the first start's failure, returned to every later caller
}

// Main is called from TestMain: it runs m's tests (Run) and returns the exit
// code.
func Main(m *testing.M) int {
	return Run(m.Run)
}

// Run runs the tests (run, e.g. m.Run or a func calling dbtest.Main(m)),
// during which Shared hands out the binary's server, then removes that
// server if a test started it, and returns run's exit code (1 if the server
// could not be removed).
func Run(run func() int) int {
	shared.mu.Lock()
	shared.managed = true
	shared.mu.Unlock()

	code := run()

	shared.mu.Lock()
	srv := shared.srv
	shared.srv, shared.err, shared.managed = nil, nil, false
	shared.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := srv.Terminate(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the test binary's server, starting it on first use. Tests
// share its keyspace (use keys of the test's own) and cannot inject faults
// into it (Kill, Pause and Restart fail the test; use Start). Without a
// Docker daemon t is skipped, or failed when CI=true; without Main or Run in
// TestMain, t fails.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.managed {
		t.Fatal("redistest: no shared server: call os.Exit(redistest.Main(m)) (or redistest.Run) from TestMain")
	}
	if shared.srv == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), startupTimeout+opTimeout)
		defer cancel()
		shared.srv, shared.err = StartContext(ctx)
		if shared.srv != nil {
			shared.srv.shared = true
			register(shared.srv)
		}
	}
	if shared.err != nil {
		skipOrFail(t, shared.err)
	}
	return shared.srv
}
