// The cluster: starting its network and servers, setting up replication,
// DSNs, and removing it all again.

package replicatest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
)

const (
	// labelCluster (the cluster's id) and labelRole ("primary", "replica0",
	// ...) are on the cluster's containers, labelCluster also on its
	// network; both carry dbtest.Labels() too.
	labelCluster = "projectsvc.replicatest.cluster"
	labelRole    = "projectsvc.replicatest.role"

	primaryAlias = "primary" // the primary's name on the cluster network
	sqlPort      = 3306
	replUser     = "replicatest_repl"

	startTimeout = 3 * time.Minute
	opTimeout    = time.Minute
	pollInterval = 50 * time.Millisecond
)

// Node names one server of a cluster: Primary, or Replica(i).
type Node int

// Primary is the cluster's primary.
const Primary Node = -1

// Replica is the i-th replica (0-based).
func Replica(i int) Node {
	if i < 0 {
		panic(fmt.Sprintf("replicatest: Replica(%d)", i))
	}
	return Node(i)
}

func (n Node) String() string {
	if n == Primary {
		return "primary"
	}
	return "replica" + strconv.Itoa(int(n))
}

// Cluster is a primary and its replicas, each a container of dbtest.Image()
// on a Docker network of the cluster's own, replicating with GTIDs. See the
// package doc for the topology and the fault semantics.
type Cluster struct {
	id       string
	replPass string
	nodes    []*node // nodes[0] is the primary, nodes[1+i] replica i

	// Set by Start; guarded by mu while Start runs (close may run
	// concurrently, on a signal).
	mu          sync.Mutex
	cancelStart context.CancelFunc
	docker      *testcontainers.DockerClient
	net         *testcontainers.DockerNetwork

	// Set once Start has set the cluster up.
	flavour *flavour
	db      string

	closeOnce sync.Once
	closeErr  error
}

// node is one server and its fault proxy.
type node struct {
	id       Node
	serverID int

	mu             sync.Mutex
	srv            *dbtest.Server    // nil until started
	proxy          *faultproxy.Proxy // what the DSNs of DSN point at
	admin          *sql.DB           // root, straight to the published port
	killed         bool
	disconnected   bool
	applierStopped bool
}

func (n *node) alias() string {
	if n.id == Primary {
		return primaryAlias
	}
	return n.id.String()
}

// Start starts a primary and replicas replicas on a network of their own,
// sets up GTID replication, creates a fresh database on the primary loaded
// from sqlFiles in order (paths relative to the repository root, e.g.
// "sql/schema.sql", "sql/seed.sql"; see dbtest.Server.CreateDatabase), and
// returns once every replica has applied it. Everything is removed in
// t.Cleanup (and on SIGINT/SIGTERM; see the package doc).
//
// Without a Docker daemon t is skipped, or failed when CI=true (as dbtest
// does).
func Start(t testing.TB, replicas int, sqlFiles ...string) *Cluster {
	t.Helper()
	if replicas < 0 {
		t.Fatalf("replicatest: Start with %d replicas", replicas)
	}
	dbtest.RequireDocker(t)

	c := &Cluster{id: strings.ToLower(rand.Text()[:8]), replPass: rand.Text()}
	for i := -1; i < replicas; i++ {
		c.nodes = append(c.nodes, &node{id: Node(i), serverID: i + 2})
	}
	register(c)
	t.Cleanup(func() {
		if err := c.close(); err != nil {
			t.Error(err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c.mu.Lock()
	c.cancelStart = cancel
	c.mu.Unlock()
	begin := time.Now()
	timings, err := c.setUp(ctx, sqlFiles)
	if err != nil {
		t.Fatalf("replicatest: start cluster %s (%s, %d replicas): %v", c.id, dbtest.Image(), replicas, err)
	}
	t.Logf("replicatest: cluster %s (%s, %s, %d replicas, database %s) ready in %s (%s)",
		c.id, dbtest.Image(), c.flavour.name, replicas, c.db, time.Since(begin).Round(time.Millisecond), timings)
	return c
}

// setUp does Start's work; it returns how long each phase took.
func (c *Cluster) setUp(ctx context.Context, sqlFiles []string) (string, error) {
	var phases []string
	mark := time.Now()
	phase := func(name string) {
		phases = append(phases, name+" "+time.Since(mark).Round(time.Millisecond).String())
		mark = time.Now()
	}

	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	c.mu.Lock()
	c.docker = docker
	c.mu.Unlock()
	reapOnce.Do(func() { reapLeftovers(ctx, docker) })

	labels := dbtest.Labels()
	labels[labelCluster] = c.id
	nw, err := network.New(ctx, network.WithLabels(labels))
	if err != nil {
		return "", fmt.Errorf("create network: %w", err)
	}
	c.mu.Lock()
	c.net = nw
	c.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		g.Go(func() error {
			srv, err := dbtest.StartWith(gctx, c.customizers(n)...)
			if err != nil {
				return fmt.Errorf("%s: %w", n.id, err)
			}
			n.mu.Lock()
			n.srv = srv
			n.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	for _, n := range c.nodes {
		if err := n.connect(); err != nil {
			return "", fmt.Errorf("%s: %w", n.id, err)
		}
	}
	phase("containers")

	var version string
	if err := c.primary().admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return "", fmt.Errorf("primary: %w", err)
	}
	c.flavour = flavourOf(version)
	if err := c.setUpReplication(ctx); err != nil {
		return "", err
	}
	phase("replication")

	c.db, err = c.primary().srv.CreateDatabase(ctx, sqlFiles...)
	if err != nil {
		return "", err
	}
	phase("load")
	if err := c.waitReplicated(ctx, c.replicaNodes()); err != nil {
		return "", err
	}
	phase("catch-up")
	return strings.Join(phases, ", "), nil
}

// customizers are n's additions to dbtest's container request: its name,
// labels, networks (the default bridge first, so the published port is on
// it and stays when the cluster network is disconnected), and flags.
func (c *Cluster) customizers(n *node) []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithName("projectsvc-replicatest-" + c.id + "-" + n.id.String()),
		testcontainers.WithLabels(map[string]string{labelCluster: c.id, labelRole: n.id.String()}),
		network.WithBridgeNetwork(),
		network.WithNetwork([]string{n.alias()}, c.net),
		// Seconds off each server's initialisation (more with several
		// starting at once); the service only ever uses '+00:00'.
		testcontainers.WithEnv(map[string]string{"MYSQL_INITDB_SKIP_TZINFO": "1"}),
		testcontainers.CustomizeRequestOption(func(req *testcontainers.GenericContainerRequest) error {
			req.Cmd = serverFlags(req.Cmd, n.serverID, n.id != Primary)
			return nil
		}),
	}
}

// serverFlags turns dbtest's flags into a cluster member's. The flavour is
// not known before a server answers, so flags only one of MySQL 8.4 and
// MariaDB 10.11 knows are given with the loose- prefix (ignored, with a
// warning, by the other).
func serverFlags(cmd []string, serverID int, replica bool) []string {
	flags := slices.DeleteFunc(slices.Clone(cmd), func(f string) bool { return f == "--skip-log-bin" })
	flags = append(flags,
		"--server-id="+strconv.Itoa(serverID),
		"--log-bin=mysql-bin",
		"--relay-log=relay-bin", // not named after the (container id) host name
		"--binlog-format=ROW",
		"--sync-binlog=0",
		"--loose-log-slave-updates", // MariaDB; MySQL 8.4: log_replica_updates, ON by default
		"--loose-gtid-mode=ON",      // MySQL only (MariaDB always has GTIDs)
		"--loose-enforce-gtid-consistency=ON",
		// A replica cut off from its primary notices within 5 s (1 s
		// heartbeats, see flavour) and then retries every second.
		"--loose-slave-net-timeout=5",
		"--loose-replica-net-timeout=5",
		// A client connecting to a Disconnect-ed server reaches it through
		// the fault proxy, which drops the greeting: the server must not
		// end the handshake after the default 10 s, or the client would
		// see an error where a partition makes it hang.
		"--connect-timeout=3600",
	)
	if replica {
		// MySQL's super_read_only cannot be given here: the image's
		// entrypoint runs its initialisation with these flags. See flavour.
		// After a Kill, the relay log is fetched again rather than trusted.
		flags = append(flags, "--read-only=ON", "--relay-log-recovery=ON")
	}
	return flags
}

// setUpReplication creates the replication user on the primary and points
// every replica at the primary.
func (c *Cluster) setUpReplication(ctx context.Context) error {
	f, p := c.flavour, c.primary()
	// Not binlogged, like the entrypoint's own set-up: the replicas need
	// nothing of it.
	primarySQL := []string{
		f.resetBinlogs,
		"SET SESSION sql_log_bin = 0",
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", replUser, c.replPass),
		fmt.Sprintf("GRANT REPLICATION SLAVE ON *.* TO '%s'@'%%'", replUser),
		"SET SESSION sql_log_bin = 1",
	}
	if err := p.exec(ctx, primarySQL...); err != nil {
		return fmt.Errorf("primary: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range c.replicaNodes() {
		g.Go(func() error {
			stmts := slices.Concat(f.replicaReset,
				[]string{fmt.Sprintf(f.changeSource, primaryAlias, sqlPort, replUser, c.replPass), f.startReplication},
				f.replicaAfterStart)
			if err := r.exec(gctx, stmts...); err != nil {
				return fmt.Errorf("%s: %w", r.id, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// close removes the cluster: proxies, pools, containers, then the network.
// Safe to call more than once and concurrently, also while Start runs (on a
// signal): that is cancelled first.
func (c *Cluster) close() error {
	c.closeOnce.Do(func() {
		defer unregister(c)
		c.mu.Lock()
		if c.cancelStart != nil {
			c.cancelStart()
		}
		docker, nw := c.docker, c.net
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Go(func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				if n.proxy != nil {
					n.proxy.Close()
				}
				if n.admin != nil {
					n.admin.Close()
				}
				if n.srv != nil {
					if err := n.srv.Terminate(ctx); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s: %w", n.id, err))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if docker != nil {
			// Containers of servers whose start did not return (failed,
			// or cancelled above) unless dbtest removed them already.
			if err := removeContainers(ctx, docker, labelCluster+"="+c.id); err != nil {
				errs = append(errs, err)
			}
		}
		if nw != nil {
			if err := nw.Remove(ctx); err != nil {
				errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
			}
		}
		if docker != nil {
			docker.Close()
		}
		if len(errs) > 0 {
			c.closeErr = fmt.Errorf("replicatest: remove cluster %s: %w", c.id, errors.Join(errs...))
		}
	})
	return c.closeErr
}

func (c *Cluster) primary() *node { return c.nodes[0] }

func (c *Cluster) replicaNodes() []*node { return c.nodes[1:] }

// node returns n's node, failing t when the cluster has no such server.
func (c *Cluster) node(t testing.TB, n Node) *node {
	t.Helper()
	i := int(n) + 1
	if n < Primary || i >= len(c.nodes) {
		t.Fatalf("replicatest: cluster %s has no %s (%d replicas)", c.id, n, len(c.nodes)-1)
	}
	return c.nodes[i]
}

// Replicas is the number of replicas.
func (c *Cluster) Replicas() int { return len(c.nodes) - 1 }

// Database is the name of the cluster's database (on every server).
func (c *Cluster) Database() string { return c.db }

// Flavour is "mariadb" or "mysql", from the primary's VERSION().
func (c *Cluster) Flavour() string { return c.flavour.name }

// DSN is the service's DSN for server n and the cluster's database (root,
// parseTime=true&loc=UTC, session time_zone '+00:00', like
// dbtest.Server.DSN). It goes through n's fault proxy, so Kill and
// Disconnect apply to it; it does not change when n is restarted.
func (c *Cluster) DSN(n Node) string {
	nd := c.nodes[int(n)+1]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.proxy.DSN(nd.srv.DSN(c.db))
}

// PrimaryDSN is DSN(Primary).
func (c *Cluster) PrimaryDSN() string { return c.DSN(Primary) }

// ReplicaDSN is DSN(Replica(i)).
func (c *Cluster) ReplicaDSN(i int) string { return c.DSN(Replica(i)) }

// AdminDSN is a root DSN for server n and the cluster's database (with
// multiStatements, like dbtest.Server.RootDSN) straight to its published
// port, bypassing the fault proxy: it keeps working while n is
// Disconnect-ed, for set-up and assertions. Ask again after Start(n): the
// port may change (rarely) on a restart.
func (c *Cluster) AdminDSN(n Node) string {
	nd := c.nodes[int(n)+1]
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.srv.RootDSN(c.db)
}

// ServiceUserDSNs creates a user on the primary with exactly the privileges
// sql/grants.sql gives the service on the cluster's database (see
// dbtest.Server.CreateServiceUser), waits until the replicas that are
// replicating have it, and returns the primary's and every replica's DSN as
// that user (through the fault proxies, like DSN). The user is dropped in
// t.Cleanup.
func (c *Cluster) ServiceUserDSNs(t testing.TB) (primary string, replicas []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	p := c.primary()
	userDSN, drop, err := p.srv.CreateServiceUser(ctx, c.PrimaryDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		if !killed {
			drop()
		}
	})
	if err := c.waitReplicated(ctx, c.replicating()); err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(userDSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.replicaNodes() {
		rc := cfg.Clone()
		r.mu.Lock()
		rc.Addr = r.proxy.Addr()
		r.mu.Unlock()
		replicas = append(replicas, rc.FormatDSN())
	}
	return userDSN, replicas
}

// connect starts n's fault proxy and opens its admin pool, once n.srv runs.
func (n *node) connect() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := faultproxy.Start(n.srv.Addr())
	if err != nil {
		return err
	}
	n.proxy = p
	return n.openAdmin()
}

// openAdmin (re)opens n's admin pool on its current address (n.mu held).
func (n *node) openAdmin() error {
	db, err := dbtest.OpenQuiet(n.srv.RootDSN("") + "&timeout=5s&readTimeout=30s&writeTimeout=30s")
	if err != nil {
		return err
	}
	if n.admin != nil {
		n.admin.Close()
	}
	n.admin = db
	return nil
}

// exec runs stmts in order on one admin connection.
func (n *node) exec(ctx context.Context, stmts ...string) error {
	n.mu.Lock()
	admin := n.admin
	n.mu.Unlock()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", redact(s), err)
		}
	}
	return nil
}

// redact hides the password of a CREATE USER / CHANGE MASTER statement.
func redact(stmt string) string {
	for _, kw := range []string{"IDENTIFIED BY '", "PASSWORD='"} {
		if i := strings.Index(stmt, kw); i >= 0 {
			rest := stmt[i+len(kw):]
			if j := strings.IndexByte(rest, '\''); j >= 0 {
				stmt = stmt[:i+len(kw)] + "***" + rest[j:]
			}
		}
	}
	return stmt
}
