// Faults: Redis killed, paused, restarted.

package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Kill kills Redis abruptly (docker kill: SIGKILL, no shutdown) and returns
// once connections to Addr are refused; open connections are closed. Its
// data is gone: Restart brings up an empty server on the same Addr.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBe(t, "Kill", running, paused)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := s.kill(ctx); err != nil {
		t.Fatalf("redistest: kill: %v", err)
	}
}

// kill is Kill under s.mu (a paused container is killed as it is).
func (s *Server) kill(ctx context.Context) error {
	id := s.ctr.GetContainerID()
	err := withDocker(ctx, func(cli client.APIClient) error {
		if _, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			return err
		}
		return poll(ctx, "the container to stop", func() (bool, error) {
			res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return false, err
			}
			return res.Container.State == nil || !res.Container.State.Running, nil
		})
	})
	if err != nil {
		return err
	}
	s.state = killed
	// Docker releases the published port as the container exits; wait for it.
	addr := s.addrLocked()
	return poll(ctx, addr+" to refuse connections", func() (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return false, nil
		}
		return errors.Is(err, syscall.ECONNREFUSED), nil
	})
}

// Pause freezes Redis (docker pause): it is there but silent. Commands on
// open connections get no answer, and new connections are accepted (by the
// kernel, or Docker's proxy) but never answered, so clients hang until
// their own timeouts — the slow or unreachable Redis. Unpause ends it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBe(t, "Pause", running)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	id := s.ctr.GetContainerID()
	err := withDocker(ctx, func(cli client.APIClient) error {
		_, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("redistest: pause: %v", err)
	}
	s.state = paused
}

// Unpause resumes a paused Redis and returns once it answers PING; commands
// sent meanwhile are answered now, unless their clients gave up.
func (s *Server) Unpause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBe(t, "Unpause", paused)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := s.unpause(ctx); err != nil {
		t.Fatalf("redistest: unpause: %v", err)
	}
	addr := s.addrLocked()
	if err := poll(ctx, "PONG from "+addr, func() (bool, error) { return Ping(ctx, addr) == nil, nil }); err != nil {
		t.Fatalf("redistest: unpause: %v", err)
	}
}

func (s *Server) unpause(ctx context.Context) error {
	id := s.ctr.GetContainerID()
	err := withDocker(ctx, func(cli client.APIClient) error {
		_, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
		return err
	})
	if err == nil {
		s.state = running
	}
	return err
}

// Restart starts Redis again — killed first if it runs (or is paused) —
// and returns once it answers PING, empty (nothing is persisted), on the
// same Addr: the host port was pinned when the container was created, and
// Docker binds the same one again. A client configured with Addr reconnects
// by itself. Should something else have taken the port while Redis was
// down, Restart fails the test saying so.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBe(t, "Restart", running, paused, killed)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout+startupTimeout)
	defer cancel()
	if s.state != killed {
		if err := s.kill(ctx); err != nil {
			t.Fatalf("redistest: restart: %v", err)
		}
	}
	before := s.addrLocked()
	// Start runs the wait strategy (pingReady) again.
	if err := s.ctr.Start(ctx); err != nil {
		hint := ""
		if isPortConflict(err) {
			hint = fmt.Sprintf(" (host port %d, pinned at creation, was taken while Redis was down)", s.port)
		}
		t.Fatalf("redistest: restart: %v%s", err, hint)
	}
	s.state = running
	if after := s.addrLocked(); after != before {
		t.Fatalf("redistest: restart: answers on %s, was %s", after, before)
	}
}

// mustBe fails t unless the server is in one of the states; faults are
// refused on the shared server (other tests use it).
func (s *Server) mustBe(t testing.TB, op string, states ...state) {
	t.Helper()
	if s.shared {
		t.Fatalf("redistest: %s on the shared server: use a server of the test's own (Start)", op)
	}
	for _, st := range states {
		if s.state == st {
			return
		}
	}
	t.Fatalf("redistest: %s: the server is %s", op, s.state)
}

func (s *Server) addrLocked() string {
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// poll calls done every pollInterval until it reports true, fails, or ctx
// ends.
func poll(ctx context.Context, what string, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
