// Waiting for the server, and PING: Redis answering on the published port.

package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"
)

// pingReady is the wait strategy, run on every start of the container
// (creation and Restart): PING answered through the published port.
// Docker's userland proxy accepts connections on a published port before
// anything listens behind it, so an open port proves nothing, and a log line
// ("Ready to accept connections") is found again in the log of a restarted
// container. As in dbtest, the address is found here: testcontainers' idea
// of the daemon's host is a guess when the tests run inside a container, so
// loopback is tried first; the host that answers becomes the server's.
type pingReady struct {
	s       *Server
	timeout time.Duration
}

var _ wait.StrategyTimeout = (*pingReady)(nil)

func (w *pingReady) Timeout() *time.Duration { return &w.timeout }

func (w *pingReady) String() string { return "PING answered on the published port " + redisPort }

func (w *pingReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()

	hosts := []string{"127.0.0.1"}
	if h, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); ok && h != "" {
		hosts = []string{h}
	} else if h, err := target.Host(ctx); err == nil && !isLoopback(h) {
		hosts = append(hosts, h)
	}

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if state, err := target.State(ctx); err == nil && !state.Running {
			return fmt.Errorf("container is %s (exit code %d) instead of running: see its log", state.Status, state.ExitCode)
		}
		port, err := target.MappedPort(ctx, redisPort)
		switch {
		case err != nil:
			last = err
		case int(port.Num()) != w.s.port:
			return fmt.Errorf("%s published on host port %d, not on the pinned %d", redisPort, port.Num(), w.s.port)
		default:
			var errs []error
			for _, h := range hosts {
				addr := net.JoinHostPort(h, port.Port())
				if err := Ping(ctx, addr); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", addr, err))
					last = errors.Join(errs...)
					continue
				}
				w.s.host = h // under s.mu: Start and Restart hold it, or nobody has s yet
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no PONG on %s: %w (last attempt: %s)", redisPort, ctx.Err(), oneLine(last))
		case <-tick.C:
		}
	}
}

// Ping sends PING to the Redis server at addr on a new connection and
// returns nil when it answers PONG; it gives up after 2 s (or ctx).
func Ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimRight(line, "\r\n"); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line) // e.g. -LOADING while a dataset loads
	}
	return nil
}
