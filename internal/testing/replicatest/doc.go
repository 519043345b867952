// Package replicatest runs a replicated MySQL-compatible cluster for tests:
// a primary and N replicas, containers of dbtest.Image() started through
// dbtest (same image choice, labels, port publishing and readiness check),
// replicating with GTIDs, with faults to inject: a server killed, a server
// partitioned, a replica lagging.
//
//	func TestReadsGoToReplicas(t *testing.T) {
//		c := replicatest.Start(t, 2, "sql/schema.sql", "sql/seed.sql")
//		svc, replicas := c.ServiceUserDSNs(t) // sql/grants.sql's privileges
//		before := c.SelectCount(t, replicatest.Replica(0))
//		... run the service on svc + replicas, read ...
//		c.Disconnect(t, replicatest.Replica(0)) // reads to it now hang
//		...
//	}
//
// # Topology
//
// Each cluster has a Docker network of its own; the servers are on it under
// the aliases "primary", "replica0", "replica1", ... (replicas replicate
// from "primary"), and on Docker's default bridge, which carries each
// server's published SQL port (as with dbtest.Start: a free host port, on
// 127.0.0.1 when the daemon is local). The DSNs the cluster hands out (DSN,
// PrimaryDSN, ReplicaDSN, ServiceUserDSNs) go through an in-process
// internal/testing/faultproxy proxy per server on 127.0.0.1, which is how
// Kill and Disconnect reach the test process; AdminDSN goes straight to
// the published port.
//
// Servers run with binary logs (dbtest's --skip-log-bin is dropped),
// server ids 1 (primary), 2, 3, ... (replicas), binlog_format ROW,
// log_slave_updates, read_only on replicas; MySQL also with gtid_mode and
// enforce_gtid_consistency ON and, once set up, a persisted super_read_only
// on replicas. The flavour is told from the primary's VERSION(); flags only
// one flavour knows are given with the loose- prefix, since they must be
// chosen before a server answers. The time zone tables are not loaded
// (MYSQL_INITDB_SKIP_TZINFO): offsets such as '+00:00' work, named zones
// do not.
//
// # Faults
//
//   - Kill(n): docker kill (SIGKILL); connections to DSN(n) fail at once
//     (open ones closed, new ones refused). Start(n) starts it again; a
//     replica catches up, DSNs stay valid.
//   - Disconnect(n): n leaves the cluster network (replication stops) and
//     DSN(n) goes silent: queries and new connections hang until the
//     client's deadline, nothing reaches the server. Reconnect(n) heals it.
//     See Disconnect for why this takes a proxy.
//   - StopReplication(n) / StartReplication(n): replica n's applier only, so
//     it lags while the primary takes writes.
//
// WaitReplicated waits for the replicas that replicate (by default) to
// apply what the primary has committed; SelectCount reads a server's
// Com_select, to see by deltas where reads went.
//
// # Removal
//
// The containers and the network are removed in t.Cleanup, and on
// SIGINT/SIGTERM (the process then exits 128+signal). They carry
// dbtest.Labels() and projectsvc.replicatest.cluster=<id>; those of test
// processes that are gone are removed by the next Start on the machine (and
// the containers by dbtest's reaper too), or by hand:
//
//	docker rm -f $(docker ps -aq --filter label=projectsvc.replicatest.cluster)
//	docker network rm $(docker network ls -q --filter label=projectsvc.replicatest.cluster)
//
// Without a Docker daemon Start skips the test, or fails it when CI=true
// (dbtest.RequireDocker).
//
// The MariaDB flavour is what runs here (projectsvc-mariadb:10.11); the
// MySQL 8.4 one (CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1,
// GET_SOURCE_PUBLIC_KEY=1; RESET BINARY LOGS AND GTIDS) is written from the
// MySQL 8.4 manual.
package replicatest
