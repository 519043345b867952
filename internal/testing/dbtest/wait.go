// Waiting for the server: SQL answering on the published port.

package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
)

// sqlReady is the wait strategy: like wait.ForSQL, but it finds the address
// itself. testcontainers' idea of the daemon's host is a guess when the tests
// run inside a container (the bridge or even the default-route gateway), so
// loopback is tried first, and that host only while nothing listens on the
// port on loopback; the address that answers SQL becomes the server's
// Host/Port (on Start and on every Resume).
type sqlReady struct {
	s       *Server
	timeout time.Duration
}

var _ wait.StrategyTimeout = (*sqlReady)(nil)

func (w *sqlReady) Timeout() *time.Duration { return &w.timeout }

func (w *sqlReady) String() string { return "SQL answering on the published port " + sqlPort }

func (w *sqlReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()

	hosts := []string{"127.0.0.1"}
	if h, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok && h != "" {
		hosts = []string{h}
	} else if h, err := target.Host(ctx); err == nil && !isLoopback(h) {
		hosts = append(hosts, h)
	}

	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if state, err := target.State(ctx); err == nil && !state.Running {
			return fmt.Errorf("container is %s (exit code %d) instead of running: see its log", state.Status, state.ExitCode)
		}
		port, err := target.MappedPort(ctx, sqlPort)
		if err != nil {
			last = err
		} else {
			var errs []error
			for _, h := range hosts {
				addr := net.JoinHostPort(h, port.Port())
				if err := w.s.ping(ctx, addr); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", addr, err))
					last = errors.Join(errs...)
					if isLoopback(h) && !isDialError(err) {
						// The port is open here (the server is still
						// initialising): no need to look elsewhere.
						break
					}
					continue
				}
				w.s.mu.Lock()
				w.s.host, w.s.port = h, int(port.Num())
				w.s.mu.Unlock()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no SQL answer on %s: %w (last attempt: %s)", sqlPort, ctx.Err(), oneLine(last))
		case <-tick.C:
		}
	}
}

// ping runs SELECT 1 as root at addr on a fresh connection.
func (s *Server) ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := open(fmt.Sprintf("root:%s@tcp(%s)/?timeout=3s&readTimeout=5s&writeTimeout=5s", s.password, addr))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "SELECT 1")
	return err
}

// isDialError: nothing accepted the TCP connection (as opposed to a server,
// or Docker's proxy, that accepted it and then failed or closed it).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
