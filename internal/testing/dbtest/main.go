// The test binary's shared server: Main, signal handling, Shared, NewDatabase.

package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const schemaFile = "sql/schema.sql"

// shared is the test binary's server, set up by Main.
var shared struct {
	mu   sync.Mutex
	srv  *Server
	skip string // why there is no server (Docker unavailable), when srv is nil
}

// Main is called from TestMain: starts one Server for the test binary, runs
// m, terminates the server, returns the exit code. Without a reachable Docker
// daemon it prints "dbtest: no Docker daemon: integration tests skipped" and
// runs the tests (which skip), or, when CI=true, prints the reason and
// returns 1 without running them. On SIGINT/SIGTERM the container is removed
// before the binary exits.
func Main(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watchSignals(cancel)
	defer w.stop()

	srv, err := Start(ctx)
	if sig := w.setServer(srv); sig != nil {
		// Interrupted while starting: Start has removed its container, or
		// the server is removed here.
		if srv != nil {
			tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer tcancel()
			_ = srv.Terminate(tctx)
		}
		return signalExitCode(sig)
	}
	if err != nil {
		var nd *noDockerError
		if !errors.As(err, &nd) {
			fmt.Fprintf(os.Stderr, "%v\n", err)
			return 1
		}
		if ciMode() {
			fmt.Fprintf(os.Stderr, "dbtest: no Docker daemon, and CI=true forbids skipping the integration tests: %s\n", nd.reason)
			return 1
		}
		fmt.Fprintln(os.Stderr, "dbtest: no Docker daemon: integration tests skipped")
		shared.mu.Lock()
		shared.skip = nd.reason
		shared.mu.Unlock()
		return m.Run()
	}

	shared.mu.Lock()
	shared.srv = srv
	shared.mu.Unlock()

	code := m.Run()

	tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
	defer tcancel()
	if err := srv.Terminate(tctx); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
	}
	return code
}

// signalWatch removes the server's container when the test binary is
// interrupted (Ctrl-C, SIGTERM): while the server starts, by cancelling the
// start (Main then cleans up and returns); once it runs, by terminating it
// and exiting 128+signal (tests cannot be stopped half-way otherwise).
type signalWatch struct {
	sigc chan os.Signal
	done chan struct{}

	mu  sync.Mutex
	sig os.Signal
	srv *Server
	set bool // Start has returned
}

func watchSignals(cancelStart context.CancelFunc) *signalWatch {
	w := &signalWatch{sigc: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(w.sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-w.sigc:
			fmt.Fprintf(os.Stderr, "dbtest: %v: terminating the database container\n", sig)
			w.mu.Lock()
			w.sig = sig
			srv, set := w.srv, w.set
			w.mu.Unlock()
			if !set {
				cancelStart() // Main takes it from here
				return
			}
			if srv != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := srv.Terminate(ctx); err != nil {
					fmt.Fprintf(os.Stderr, "%v\n", err)
				}
				cancel()
			}
			os.Exit(signalExitCode(sig))
		case <-w.done:
		}
	}()
	return w
}

// setServer records the outcome of Start; it returns the signal received
// before that, if any.
func (w *signalWatch) setServer(srv *Server) os.Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.srv, w.set = srv, true
	return w.sig
}

func (w *signalWatch) stop() {
	signal.Stop(w.sigc)
	close(w.done)
}

func signalExitCode(sig os.Signal) int {
	if n, ok := sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

func ciMode() bool {
	v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv("CI")))
	return err == nil && v
}

// Shared returns the binary's server (t.Skip with the reason when Docker was
// unavailable locally; t.Fatal when Main was not used).
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	srv, skip := shared.srv, shared.skip
	shared.mu.Unlock()
	switch {
	case srv != nil:
		return srv
	case skip != "":
		t.Skip("dbtest: no Docker daemon, integration test skipped: " + skip)
	default:
		t.Fatal("dbtest: no shared server: call os.Exit(dbtest.Main(m)) from TestMain")
	}
	return nil
}

// NewDatabase creates a fresh database on the shared server from
// sql/schema.sql plus the extra files given (e.g. "sql/seed.sql"), drops it
// in t.Cleanup, and returns its service DSN (see Server.DSN).
func NewDatabase(t testing.TB, extraFiles ...string) string {
	t.Helper()
	s := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name, err := s.CreateDatabase(ctx, append([]string{schemaFile}, extraFiles...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.isStopped() {
			t.Logf("dbtest: database %s not dropped: the server is stopped", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return s.DSN(name)
}
