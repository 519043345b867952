// Package dbtest runs a MySQL-compatible server in a Docker container for
// integration tests (testcontainers-go) and hands out fresh, isolated
// databases loaded from the repository's SQL files.
//
// Use from a package's tests:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
//	func TestFindOne(t *testing.T) {
//		dsn := dbtest.NewDatabase(t, "sql/seed.sql") // sql/schema.sql + seed, dropped after the test
//		...
//	}
//
// The image is mysql:8.4 unless DBTEST_IMAGE names another one, e.g. the
// registry-less projectsvc-mariadb:10.11 built by .ci/images/mariadb.sh.
//
// Without a reachable Docker daemon the integration tests skip locally; with
// CI=true the test binary fails instead, so CI is never green with skipped
// integration tests. An explicitly set DOCKER_HOST that does not answer counts
// as "no daemon" (testcontainers would otherwise silently fall back to the
// default socket).
//
// Ryuk (testcontainers' reaper) is not required: when its image is not
// present locally it is disabled, and dbtest terminates its containers itself
// (also on SIGINT/SIGTERM). Containers carry the label projectsvc.dbtest=1;
// those left behind by a crashed test binary are removed by the next Start on
// the same machine, or by hand:
//
//	docker rm -f $(docker ps -aq --filter label=projectsvc.dbtest=1)
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/go-sql-driver/mysql"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	defaultImage = "mysql:8.4"
	imageEnv     = "DBTEST_IMAGE"
	schemaFile   = "sql/schema.sql"

	labelKey  = "projectsvc.dbtest"
	labelHost = "projectsvc.dbtest.host"
	labelPID  = "projectsvc.dbtest.pid"

	sqlPort        = "3306/tcp"
	xPort          = "33060/tcp" // exposed by the testcontainers module (MySQL X protocol)
	startupTimeout = 3 * time.Minute
	stopTimeout    = 10 * time.Second

	// quietDriver is database/sql's name for go-sql-driver/mysql with its
	// logger silenced: polling a starting server makes it print
	// "[mysql] ... unexpected EOF" lines that are expected, not errors.
	quietDriver = "dbtest-mysql"
)

func init() {
	sql.Register(quietDriver, quietMySQL{})
}

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
	pinned := freeLocalPort()
	s.ctr, err = s.run(ctx, local, pinned)
	if err != nil && pinned != 0 && isPortConflict(err) {
		s.ctr, err = s.run(ctx, local, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("dbtest: start %s: %w%s", img, err, hint)
	}
	return s, nil
}

// run creates and starts the container, publishing 3306 on hostPort (0: any
// free port), on loopback only when the daemon is local.
func (s *Server) run(ctx context.Context, loopbackOnly bool, hostPort int) (*tcmysql.MySQLContainer, error) {
	var bindIP netip.Addr
	if loopbackOnly {
		bindIP = netip.MustParseAddr("127.0.0.1")
	}
	hp := ""
	if hostPort > 0 {
		hp = strconv.Itoa(hostPort)
	}
	hostname, _ := os.Hostname()
	ctr, err := tcmysql.Run(ctx, s.image,
		tcmysql.WithUsername("root"),
		tcmysql.WithPassword(s.password),
		testcontainers.WithLabels(map[string]string{
			labelKey:  "1",
			labelHost: hostname,
			labelPID:  strconv.Itoa(os.Getpid()),
		}),
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
	)
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

// open returns a pool for dsn through the quiet driver.
func open(dsn string) (*sql.DB, error) {
	c, err := quietMySQL{}.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// CreateDatabase creates a fresh uniquely named database and loads the given
// SQL files into it in order (paths relative to the repo root, found by
// walking up from the working dir to go.mod; absolute paths as they are),
// returning its name. Each file is sent whole as one multi-statement query
// (plain SQL only: no client commands such as DELIMITER); the first failing
// statement fails the call, and the database is dropped again.
func (s *Server) CreateDatabase(ctx context.Context, files ...string) (string, error) {
	type script struct{ path, sql string }
	scripts := make([]script, 0, len(files))
	for _, f := range files {
		p, err := resolve(f)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("dbtest: %w", err)
		}
		scripts = append(scripts, script{p, string(b)})
	}

	name := "dbtest_" + randomHex(6)
	admin, err := open(s.RootDSN(""))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return "", fmt.Errorf("dbtest: create database: %w", err)
	}

	load := func() error {
		db, err := open(s.RootDSN(name))
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("dbtest: connect to %s: %w", name, err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
			return fmt.Errorf("dbtest: %w", err)
		}
		for _, sc := range scripts {
			if strings.TrimSpace(sc.sql) == "" {
				continue
			}
			if _, err := conn.ExecContext(ctx, sc.sql); err != nil && !isEmptyQuery(err) {
				return fmt.Errorf("dbtest: load %s into %s: %w", sc.path, name, err)
			}
		}
		return nil
	}
	if err := load(); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.ExecContext(dctx, "DROP DATABASE IF EXISTS `"+name+"`")
		return "", err
	}
	return name, nil
}

// isEmptyQuery: a file holding only comments is "Query was empty" (1065).
func isEmptyQuery(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1065
}

// DropDatabase drops database name (no error if it does not exist).
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if !dbNameRE.MatchString(name) {
		return fmt.Errorf("dbtest: drop database: bad name %q", name)
	}
	admin, err := open(s.RootDSN(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("dbtest: drop database %s: %w", name, err)
	}
	return nil
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

// ---- Docker discovery, Ryuk, leftovers ----

var (
	prepareOnce   sync.Once
	prepareReason string
	reapOnce      sync.Once
)

// prepareDocker checks that a Docker daemon answers and, before
// testcontainers reads its configuration (once per process), disables Ryuk
// when its image is not present locally. It returns why Docker is unusable,
// or "".
func prepareDocker(ctx context.Context) string {
	prepareOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()

		// 1. The daemon the environment names, else the usual local sockets
		// (testcontainers looks at more places; those are checked below).
		hosts := []string{os.Getenv("DOCKER_HOST")}
		if hosts[0] == "" {
			hosts = localSockets()
		}
		var cli *client.Client
		var lastErr error
		for _, h := range hosts {
			c, err := client.New(client.FromEnv, client.WithHost(h))
			if err != nil {
				lastErr = err
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = c.Ping(pctx, client.PingOptions{})
			pcancel()
			if err != nil {
				c.Close()
				lastErr = err
				continue
			}
			cli = c
			break
		}
		if cli == nil && os.Getenv("DOCKER_HOST") != "" {
			prepareReason = fmt.Sprintf("DOCKER_HOST=%s: %s", os.Getenv("DOCKER_HOST"), oneLine(lastErr))
			return
		}
		if cli != nil {
			configureRyuk(ctx, cli)
			cli.Close()
		}

		// 2. What testcontainers itself will use.
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			prepareReason = oneLine(err)
			if cli == nil {
				prepareReason = fmt.Sprintf("DOCKER_HOST unset and no daemon at %s (testcontainers: %s)",
					strings.Join(hosts, ", "), oneLine(err))
			}
			return
		}
		defer p.Close()
		if _, err := p.Client().Ping(ctx, client.PingOptions{}); err != nil {
			prepareReason = oneLine(err)
		}
	})
	return prepareReason
}

func localSockets() []string {
	socks := []string{"unix:///var/run/docker.sock"}
	if runtime.GOOS == "windows" {
		return []string{"npipe:////./pipe/docker_engine"}
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		socks = append(socks, "unix://"+filepath.Join(d, "docker.sock"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		socks = append(socks,
			"unix://"+filepath.Join(home, ".docker", "run", "docker.sock"),
			"unix://"+filepath.Join(home, ".docker", "desktop", "docker.sock"))
	}
	return socks
}

// configureRyuk sets TESTCONTAINERS_RYUK_DISABLED=true, unless it is set
// already, when the Ryuk image is not present on the daemon (a registry-less
// daemon could not pull it, and every container start would fail).
func configureRyuk(ctx context.Context, cli *client.Client) {
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); set {
		return
	}
	//lint:ignore SA1019 the image this testcontainers version runs as Ryuk
	img := testcontainers.ReaperDefaultImage
	candidates := []string{img}
	if prefix := os.Getenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"); prefix != "" {
		candidates = append(candidates, strings.TrimSuffix(prefix, "/")+"/"+img)
	}
	for _, c := range candidates {
		_, err := cli.ImageInspect(ctx, c)
		if err == nil || !cerrdefs.IsNotFound(err) {
			return // present, or unknown: leave testcontainers' default
		}
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	fmt.Fprintf(os.Stderr, "dbtest: %s not present locally: Ryuk disabled, dbtest terminates its containers itself\n", img)
}

// reapLeftovers removes dbtest containers that were started on this machine
// by test binaries that no longer run (crashed, killed, timed out).
func reapLeftovers(ctx context.Context, cli client.APIClient) {
	hostname, err := os.Hostname()
	if err != nil {
		return
	}
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelKey+"=1", labelHost+"="+hostname),
	})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		pid, err := strconv.Atoi(c.Labels[labelPID])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_, err = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil {
			fmt.Fprintf(os.Stderr, "dbtest: removed leftover container %.12s of exited test process %d\n", c.ID, pid)
		}
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess fails there for processes that do not exist
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}

// ---- small helpers ----

// quietMySQL is go-sql-driver/mysql without its logger.
type quietMySQL struct{}

func (d quietMySQL) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

func (quietMySQL) OpenConnector(dsn string) (driver.Connector, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = &mysql.NopLogger{}
	return mysql.NewConnector(cfg)
}

var repoRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("dbtest: no go.mod in %s or any parent", dir)
		}
		d = parent
	}
})

// resolve makes a repo-root-relative path absolute.
func resolve(path string) (string, error) {
	if filepath.IsAbs(path) {
		return path, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(path)), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// freeLocalPort returns a TCP port that is free on 127.0.0.1 right now, or 0.
func freeLocalPort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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

// isDialError: nothing accepted the TCP connection (as opposed to a server,
// or Docker's proxy, that accepted it and then failed or closed it).
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Open opens a pool to dsn for test setup and checks; it is closed when t ends.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
