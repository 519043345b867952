// The server: starting its container, its address and DSNs, stopping it.

package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

const (
	defaultImage = "mysql:8.4"
	imageEnv     = "DBTEST_IMAGE"

	labelKey  = "projectsvc.dbtest"
	labelHost = "projectsvc.dbtest.host"
	labelPID  = "projectsvc.dbtest.pid"

	sqlPort        = "3306/tcp"
	xPort          = "33060/tcp" // exposed by the testcontainers module (MySQL X protocol)
	startupTimeout = 3 * time.Minute
	stopTimeout    = 10 * time.Second
)

// Image is the database image: env DBTEST_IMAGE, default "mysql:8.4".
func Image() string {
	if img := strings.TrimSpace(os.Getenv(imageEnv)); img != "" {
		return img
	}
	return defaultImage
}

// Server is a running MySQL-compatible server in a container.
type Server struct {
	ctr      *tcmysql.MySQLContainer
	image    string
	password string

	mu      sync.RWMutex
	host    string
	port    int
	stopped bool

	termOnce sync.Once
	termErr  error
}

// noDockerError reports that no Docker daemon is reachable.
type noDockerError struct{ reason string }

func (e *noDockerError) Error() string { return "dbtest: no Docker daemon: " + e.reason }

// Start starts a container (root password set, no Ryuk dependency — see the
// package doc) and waits until it accepts SQL.
//
// The host port is chosen up front and kept across Stop/Resume when it can
// be (it is otherwise left to Docker, and may change on Resume).
func Start(ctx context.Context) (*Server, error) {
	return StartWith(ctx)
}

// StartWith is Start with extra testcontainers customizers, applied after
// dbtest's own (so they see, and may change, its command-line flags, labels
// and host config): for servers that need more than the defaults, such as
// replicatest's replication flags and network. Without extra it is Start.
func StartWith(ctx context.Context, extra ...testcontainers.ContainerCustomizer) (*Server, error) {
	if reason := prepareDocker(ctx); reason != "" {
		return nil, &noDockerError{reason: reason}
	}

	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, &noDockerError{reason: oneLine(err)}
	}
	defer provider.Close()
	reapOnce.Do(func() { reapLeftovers(ctx, provider.Client()) })

	// A daemon publishing on this machine's loopback gets the port bound to
	// 127.0.0.1 only; elsewhere (remote daemon, tests inside a container)
	// it is bound on all interfaces, and the wait strategy finds the address.
	daemonHost, err := provider.DaemonHost(ctx)
	local := err == nil && isLoopback(daemonHost)

	img := Image()
	hint := ""
	if _, err := provider.Client().ImageInspect(ctx, img); cerrdefs.IsNotFound(err) {
		hint = fmt.Sprintf(" (image %s is not present locally; without a registry, build one with"+
			" `bash .ci/images/mariadb.sh` and set DBTEST_IMAGE=projectsvc-mariadb:10.11)", img)
	}

	s := &Server{image: img, password: randomHex(12)}
	pinned := testenv.FreePort()
	s.ctr, err = s.run(ctx, local, pinned, extra)
	if err != nil && pinned != 0 && isPortConflict(err) {
		s.ctr, err = s.run(ctx, local, 0, extra)
	}
	if err != nil {
		return nil, fmt.Errorf("dbtest: start %s: %w%s", img, err, hint)
	}
	return s, nil
}

// run creates and starts the container, publishing 3306 on hostPort (0: any
// free port), on loopback only when the daemon is local; extra customizers
// are applied after dbtest's own.
func (s *Server) run(ctx context.Context, loopbackOnly bool, hostPort int, extra []testcontainers.ContainerCustomizer) (*tcmysql.MySQLContainer, error) {
	var bindIP netip.Addr
	if loopbackOnly {
		bindIP = netip.MustParseAddr("127.0.0.1")
	}
	hp := ""
	if hostPort > 0 {
		hp = strconv.Itoa(hostPort)
	}
	opts := []testcontainers.ContainerCustomizer{
		tcmysql.WithUsername("root"),
		tcmysql.WithPassword(s.password),
		testcontainers.WithLabels(Labels()),
		// Options that MySQL 8.4 and MariaDB 10.11 both accept: room for
		// many pools, and no binlog / per-commit fsync (disposable data).
		testcontainers.WithCmdArgs(
			"--max-connections=500",
			"--skip-log-bin",
			"--innodb-flush-log-at-trx-commit=2",
		),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{
				network.MustParsePort(sqlPort): {{HostIP: bindIP, HostPort: hp}},
				network.MustParsePort(xPort):   {{HostIP: bindIP}},
			}
		}),
		// The module waits for a MySQL-only log line; SQL answering on the
		// published port works for MySQL and MariaDB images alike (and
		// their entrypoints keep TCP closed until initialisation is done).
		testcontainers.WithWaitStrategyAndDeadline(startupTimeout, &sqlReady{s: s, timeout: startupTimeout}),
	}
	ctr, err := tcmysql.Run(ctx, s.image, append(opts, extra...)...)
	if err != nil {
		if ctr != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_ = ctr.Terminate(cctx, testcontainers.StopTimeout(0))
		}
		return nil, err
	}
	return ctr, nil
}

// Host is the address the published port answered SQL on: 127.0.0.1 when
// the Docker daemon publishes ports on this machine, else the daemon's host.
func (s *Server) Host() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.host
}

// Port is the host port 3306 is published on; it may change on Resume.
func (s *Server) Port() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.port
}

// Addr is Host:Port, the address to dial (or to put a fault proxy in front of).
func (s *Server) Addr() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// RootDSN is a go-sql-driver DSN as root to database db (may be ""), with
// parseTime=true&loc=UTC&multiStatements=true.
func (s *Server) RootDSN(db string) string {
	return fmt.Sprintf("root:%s@tcp(%s)/%s?parseTime=true&loc=UTC&multiStatements=true", s.password, s.Addr(), db)
}

// DSN is the service's DSN for database db: root, parseTime=true&loc=UTC and
// a session time_zone of '+00:00', without multiStatements.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("root:%s@tcp(%s)/%s?parseTime=true&loc=UTC&time_zone=%%27%%2B00%%3A00%%27", s.password, s.Addr(), db)
}

// Stop stops the container (server down, for outage tests); its data is
// kept for Resume.
func (s *Server) Stop(ctx context.Context) error {
	timeout := stopTimeout
	if err := s.ctr.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("dbtest: stop: %w", err)
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return nil
}

// Resume starts the stopped container again and waits until SQL answers.
// Host, Port and the DSNs reflect the port it is published on now.
func (s *Server) Resume(ctx context.Context) error {
	// Start runs the wait strategy again, which records the new address.
	if err := s.ctr.Start(ctx); err != nil {
		return fmt.Errorf("dbtest: resume: %w", err)
	}
	s.mu.Lock()
	s.stopped = false
	s.mu.Unlock()
	return nil
}

// isStopped reports whether Stop was called without a Resume since.
func (s *Server) isStopped() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stopped
}

// Terminate removes the container and its data. Safe to call more than once
// and concurrently: later calls wait for the first one and return its error.
func (s *Server) Terminate(ctx context.Context) error {
	s.termOnce.Do(func() {
		if err := s.ctr.Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
			s.termErr = fmt.Errorf("dbtest: terminate: %w", err)
		}
	})
	return s.termErr
}

// Container is the underlying testcontainers container.
func (s *Server) Container() testcontainers.Container {
	return s.ctr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func isPortConflict(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
