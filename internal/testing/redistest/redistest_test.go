package redistest_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/redistest"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(redistest.Main(m)))
}

func TestImage(t *testing.T) {
	t.Setenv("REDIS_TEST_IMAGE", "")
	if got := redistest.Image(); got != "redis:7" {
		t.Errorf("Image() = %q, want redis:7", got)
	}
	t.Setenv("REDIS_TEST_IMAGE", "projectsvc-redis:7")
	if got := redistest.Image(); got != "projectsvc-redis:7" {
		t.Errorf("Image() = %q with REDIS_TEST_IMAGE set", got)
	}
}

// conn is a raw RESP connection: enough Redis client for these tests.
type conn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c, rd: bufio.NewReader(c)}
}

// send writes a command; read reads one reply line within timeout.
func (c *conn) send(args ...string) error {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	_ = c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := c.c.Write([]byte(b.String()))
	return err
}

func (c *conn) read(timeout time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.rd.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// do sends a command and returns its reply's first line, failing the test
// on an error.
func (c *conn) do(args ...string) string {
	c.t.Helper()
	if err := c.send(args...); err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	line, err := c.read(2 * time.Second)
	if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	if strings.HasPrefix(line, "$") && line != "$-1" { // a bulk string: its value
		if line, err = c.read(2 * time.Second); err != nil {
			c.t.Fatalf("%v: %v", args, err)
		}
	}
	return line
}

// config is the value of a configuration parameter (CONFIG GET's reply:
// *2, $len, name, $len, value).
func (c *conn) config(param string) string {
	c.t.Helper()
	if err := c.send("CONFIG", "GET", param); err != nil {
		c.t.Fatal(err)
	}
	var lines []string
	for range 5 {
		line, err := c.read(2 * time.Second)
		if err != nil {
			c.t.Fatalf("CONFIG GET %s: %v (read %q)", param, err, lines)
		}
		lines = append(lines, line)
	}
	if lines[0] != "*2" || lines[2] != param {
		c.t.Fatalf("CONFIG GET %s: %q", param, lines)
	}
	return lines[4]
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestStartAnswersPing(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	t.Logf("Redis at %s", s.Addr())
	if err := redistest.Ping(t.Context(), s.Addr()); err != nil {
		t.Fatalf("PING %s: %v", s.Addr(), err)
	}
	c := dial(t, s.Addr())
	if got := c.do("SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	if got := c.do("GET", "k"); got != "v" {
		t.Errorf("GET: %q, want v", got)
	}
	// Nothing persisted, whatever the image: --save "" --appendonly no.
	for param, want := range map[string]string{"save": "", "appendonly": "no"} {
		if got := c.config(param); got != want {
			t.Errorf("CONFIG GET %s = %q, want %q", param, got, want)
		}
	}
}

// Kill: the open connection is closed, new ones are refused. Restart: the
// same address answers again, empty.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	addr := s.Addr()
	c := dial(t, addr)
	if got := c.do("SET", "counter", "41"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}

	start := time.Now()
	s.Kill(t)
	t.Logf("killed in %v", time.Since(start).Round(time.Millisecond))
	if err := c.send("PING"); err == nil {
		if line, err := c.read(5 * time.Second); err == nil {
			t.Errorf("open connection answered %q after Kill", line)
		} else if isTimeout(err) {
			t.Errorf("open connection hangs after Kill instead of closing: %v", err)
		}
	}
	_, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s after Kill: %v, want connection refused", addr, err)
	}
	if err := redistest.Ping(t.Context(), addr); err == nil {
		t.Fatal("PING answered after Kill")
	}

	start = time.Now()
	s.Restart(t)
	t.Logf("restarted in %v", time.Since(start).Round(time.Millisecond))
	if s.Addr() != addr {
		t.Fatalf("Addr after Restart = %s, was %s", s.Addr(), addr)
	}
	if err := redistest.Ping(t.Context(), addr); err != nil {
		t.Fatalf("PING %s after Restart: %v", addr, err)
	}
	if got := dial(t, addr).do("GET", "counter"); got != "$-1" {
		t.Errorf("GET counter after Restart = %q, want nil (an empty server)", got)
	}
}

// Pause: commands on an open connection and on a new one go unanswered
// (they time out, nothing is refused); Unpause: answers again, including
// the command sent while paused.
func TestPauseUnpause(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	addr := s.Addr()
	c := dial(t, addr)
	if got := c.do("PING"); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}

	s.Pause(t)
	if err := c.send("INCR", "hits"); err != nil {
		t.Fatalf("send while paused: %v", err)
	}
	if line, err := c.read(time.Second); !isTimeout(err) {
		t.Fatalf("open connection while paused: %q, %v; want a timeout", line, err)
	}
	// A new connection: accepted, never answered.
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial while paused: %v (want a connection that hangs)", err)
	}
	nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	err = redistest.Ping(ctx, addr)
	cancel()
	if !isTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PING on a new connection while paused: %v, want a timeout", err)
	}

	s.Unpause(t)
	if line, err := c.read(5 * time.Second); err != nil || line != ":1" {
		t.Errorf("the INCR sent while paused: %q, %v; want :1 once unpaused", line, err)
	}
	if err := redistest.Ping(t.Context(), addr); err != nil {
		t.Fatalf("PING after Unpause: %v", err)
	}
}

// Restart of a paused server kills it first; the address stays.
func TestRestartWhilePaused(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	addr := s.Addr()
	s.Pause(t)
	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Addr after Restart = %s, was %s", s.Addr(), addr)
	}
	if err := redistest.Ping(t.Context(), addr); err != nil {
		t.Fatal(err)
	}
}

// A test's server is removed when it ends, paused or not.
func TestRemovedAfterTest(t *testing.T) {
	t.Parallel()
	var id string
	t.Run("paused at the end", func(t *testing.T) {
		s := redistest.Start(t)
		id = s.Container().GetContainerID()
		s.Pause(t)
	})
	if id == "" {
		t.Skip("no server (skipped subtest)")
	}
	cli, err := testcontainers.NewDockerClientWithOpts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_, err = cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("container %.12s after the test: %v, want not found", id, err)
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	s := redistest.Shared(t)
	if s2 := redistest.Shared(t); s2 != s {
		t.Error("Shared returned two servers")
	}
	if err := redistest.Ping(t.Context(), s.Addr()); err != nil {
		t.Fatal(err)
	}
}
