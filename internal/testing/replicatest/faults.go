// Faults: killing and restarting servers, partitioning them, pausing a
// replica's applier; and Com_select, to see where reads went.

package replicatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
)

// The fault proxy's toxics while a server is Disconnect-ed.
const (
	partitionUp   = "replicatest-partition-upstream"
	partitionDown = "replicatest-partition-downstream"
)

// Kill kills server n abruptly (docker kill: SIGKILL, no shutdown) and cuts
// its fault proxy: connections to DSN(n) fail at once (open ones are
// closed, new ones refused) until Start(n). Replicas of a killed primary
// retry every second.
func (c *Cluster) Kill(t testing.TB, n Node) {
	t.Helper()
	nd := c.node(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	id := nd.srv.Container().GetContainerID()
	if _, err := c.docker.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatalf("replicatest: kill %s: %v", n, err)
	}
	for {
		res, err := c.docker.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("replicatest: kill %s: %v", n, err)
		}
		if res.Container.State == nil || !res.Container.State.Running {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("replicatest: kill %s: still running: %v", n, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
	nd.proxy.Cut()
	nd.killed = true
}

// Start starts server n again after Kill and waits until it answers SQL; a
// replica resumes replicating (both threads: a StopReplication before the
// Kill does not survive it) and catches up on its own (see WaitReplicated).
// DSN(n) stays the same; a Disconnect-ed server stays disconnected.
func (c *Cluster) Start(t testing.TB, n Node) {
	t.Helper()
	nd := c.node(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.killed {
		t.Fatalf("replicatest: Start(%s): not killed", n)
	}
	before := nd.srv.Addr()
	if err := nd.srv.Resume(ctx); err != nil {
		t.Fatalf("replicatest: start %s: %v", n, err)
	}
	if addr := nd.srv.Addr(); addr != before {
		// Published on another port (the old one was taken meanwhile): a
		// new proxy on the same address, so that DSNs stay valid.
		listen := nd.proxy.Addr()
		nd.proxy.Close()
		p, err := faultproxy.Listen(listen, addr)
		if err != nil {
			t.Fatalf("replicatest: start %s: %v", n, err)
		}
		nd.proxy = p
		if nd.disconnected {
			if err := partition(p); err != nil {
				t.Fatalf("replicatest: start %s: %v", n, err)
			}
		}
	} else if err := nd.proxy.Restore(); err != nil {
		t.Fatalf("replicatest: start %s: %v", n, err)
	}
	if err := nd.openAdmin(); err != nil {
		t.Fatalf("replicatest: start %s: %v", n, err)
	}
	nd.killed, nd.applierStopped = false, false
}

// Disconnect partitions server n: it is disconnected from the cluster
// network (replication to or from it stops: a replica notices within 5 s
// and retries every second), and the test process can no longer talk to it
// through DSN(n), silently — as with a real partition, no error comes back:
// queries on open connections and new connections (TCP connect succeeds,
// the server's greeting never arrives) hang until the client's own deadline
// or timeout. Nothing sent meanwhile reaches the server, nor anything it
// sends the client. AdminDSN(n), SelectCount and the other Cluster methods
// still reach it. Reconnect heals the partition.
//
// Why a proxy: Docker cannot cut a published port off silently (seen with
// Docker 20.10 and its userland proxy, docker-proxy). Disconnecting the
// container from a network that does not carry the published port changes
// nothing for the host. Disconnecting the one that carries it closes the
// connections open through the port (EOF) and moves the mapping to another
// network of the container (same host port if pinned, else a new one), so
// new connections work again at once; with no network left they are
// refused. Nothing ever hangs. So the published port stays on the default
// bridge, only the cluster network is disconnected, and the test process is
// partitioned by n's fault proxy: toxiproxy "timeout" toxics with timeout 0
// on both directions (all data dropped; a connection stays open unless an
// end closes it). The servers run with
// connect_timeout 3600 s, so a client connecting meanwhile, whose
// handshake the server would otherwise end after 10 s, hangs too.
func (c *Cluster) Disconnect(t testing.TB, n Node) {
	t.Helper()
	nd := c.node(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.disconnected {
		t.Fatalf("replicatest: Disconnect(%s): already disconnected", n)
	}
	if err := partition(nd.proxy); err != nil {
		t.Fatalf("replicatest: disconnect %s: %v", n, err)
	}
	_, err := c.docker.NetworkDisconnect(ctx, c.net.ID, client.NetworkDisconnectOptions{
		Container: nd.srv.Container().GetContainerID(),
		Force:     true,
	})
	if err != nil {
		t.Fatalf("replicatest: disconnect %s from network %s: %v", n, c.net.Name, err)
	}
	nd.disconnected = true
}

// Reconnect heals Disconnect(n): n is on the cluster network again, under
// its alias, and DSN(n) works again. Connections that had traffic during the
// partition have lost it (the client has usually given up on them already);
// idle ones carry on. A replica reconnects to the primary within a few
// seconds (see WaitReplicated).
func (c *Cluster) Reconnect(t testing.TB, n Node) {
	t.Helper()
	nd := c.node(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.disconnected {
		t.Fatalf("replicatest: Reconnect(%s): not disconnected", n)
	}
	_, err := c.docker.NetworkConnect(ctx, c.net.ID, client.NetworkConnectOptions{
		Container:      nd.srv.Container().GetContainerID(),
		EndpointConfig: &network.EndpointSettings{Aliases: []string{nd.alias()}},
	})
	if err != nil {
		t.Fatalf("replicatest: reconnect %s to network %s: %v", n, c.net.Name, err)
	}
	if err := heal(nd.proxy); err != nil {
		t.Fatalf("replicatest: reconnect %s: %v", n, err)
	}
	nd.disconnected = false
}

func partition(p *faultproxy.Proxy) error {
	for name, stream := range map[string]string{partitionUp: "upstream", partitionDown: "downstream"} {
		if err := p.AddToxic(name, "timeout", stream, map[string]any{"timeout": 0}); err != nil {
			return err
		}
	}
	return nil
}

func heal(p *faultproxy.Proxy) error {
	for _, name := range []string{partitionUp, partitionDown} {
		if err := p.RemoveToxic(name); err != nil {
			return err
		}
	}
	return nil
}

// StopReplication stops replica n's applier (SQL thread) only: it keeps
// receiving the primary's binlog but applies nothing, so it lags behind
// writes on the primary until StartReplication.
func (c *Cluster) StopReplication(t testing.TB, n Node) {
	t.Helper()
	c.setApplier(t, n, false)
}

// StartReplication starts replica n's applier again; it catches up on its
// own (see WaitReplicated).
func (c *Cluster) StartReplication(t testing.TB, n Node) {
	t.Helper()
	c.setApplier(t, n, true)
}

func (c *Cluster) setApplier(t testing.TB, n Node, run bool) {
	t.Helper()
	if n == Primary {
		t.Fatal("replicatest: the primary does not replicate")
	}
	nd := c.node(t, n)
	stmt := c.flavour.stopApplier
	if run {
		stmt = c.flavour.startApplier
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := nd.exec(ctx, stmt); err != nil {
		t.Fatalf("replicatest: %s on %s: %v", stmt, n, err)
	}
	nd.mu.Lock()
	nd.applierStopped = !run
	nd.mu.Unlock()
}

// SelectCount is server n's Com_select status counter: the SELECT
// statements it has run since it started. Tests see where reads went by the
// difference before and after. The harness's own queries (WaitReplicated,
// SelectCount, StopReplication, ...) are SHOW and administrative statements,
// which do not count; a replica (re)connecting to the primary (set-up,
// Reconnect, Start) runs a few SELECTs on the primary, which do. The
// counter restarts from 0 when a server is restarted.
func (c *Cluster) SelectCount(t testing.TB, n Node) int64 {
	t.Helper()
	nd := c.node(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	nd.mu.Lock()
	admin := nd.admin
	nd.mu.Unlock()
	var name string
	var count int64
	if err := admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &count); err != nil {
		t.Fatalf("replicatest: Com_select of %s: %v", n, err)
	}
	return count
}

// String describes the cluster, for logs.
func (c *Cluster) String() string {
	return fmt.Sprintf("replicatest cluster %s (%d replicas, database %s)", c.id, c.Replicas(), c.db)
}
