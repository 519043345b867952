package main

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/replicatest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

const replicaClients = 32

// replicas: a primary and two replicas (internal/testing/replicatest, all
// three containers on this machine) holding the small data set, and the
// service reading from 0, 1 and 2 of the replicas, alternated.
//
// On SIGINT/SIGTERM while the cluster runs, replicatest removes it and
// exits; the bench's own database container is then left to dbtest's
// reaper.
func (e *env) replicas() (err error) {
	tb := bench.NewTB(e.ctx, "replicas", func(line string) { logf("  %s", line) })
	defer func() { err = errors.Join(err, tb.Close()) }()
	out := &Replicas{Clients: replicaClients, Nodes: []string{"primary", "replica 1", "replica 2"}}
	nodes := []replicatest.Node{replicatest.Primary, replicatest.Replica(0), replicatest.Replica(1)}
	t0 := time.Now()
	var c *replicatest.Cluster
	if err := tb.Do(func(t *bench.TB) { c = replicatest.Start(t, len(nodes)-1, "sql/schema.sql") }); err != nil {
		return err
	}
	out.ClusterStart = time.Since(t0)

	var dsns []string
	var dbs []*bench.ContainerCPU
	var ports []int
	for _, n := range nodes {
		dsn, port, err := directDSN(c, n)
		if err != nil {
			return err
		}
		dsns, ports = append(dsns, dsn), append(ports, port)
		id, err := bench.ContainerPublishing(port)
		cpu, why := containerCPU(id, err)
		if why != "" {
			out.DBCPUSkipped = why
		}
		dbs = append(dbs, cpu)
		if err := onServer(c.AdminDSN(n), "SET GLOBAL innodb_buffer_pool_size = 1073741824"); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	spec := bench.SmallRecords
	primary, err := sql.Open("mysql", c.AdminDSN(replicatest.Primary))
	if err != nil {
		return err
	}
	defer primary.Close()
	logf("  loading the small data set on the primary")
	if out.Load, err = spec.Load(e.ctx, primary, func(line string) { logf("    %s", line) }); err != nil {
		return err
	}
	t0 = time.Now()
	if err := tb.Do(func(t *bench.TB) { c.WaitReplicated(t) }); err != nil {
		return err
	}
	out.Catchup = time.Since(t0)
	logf("  loaded in %s, replicated %s later", out.Load.Duration.Round(100*time.Millisecond), out.Catchup.Round(100*time.Millisecond))
	for i, dsn := range dsns {
		if err := e.readAll(database{spec: spec, dsn: dsn}); err != nil {
			return fmt.Errorf("warm-up of %s: %w", out.Nodes[i], err)
		}
	}

	var svcs []*bench.Service
	defer func() {
		for _, s := range svcs {
			err = errors.Join(err, s.Close())
		}
	}()
	for k := range nodes {
		v := bench.Variant{Name: fmt.Sprintf("%d replicas", k), Overrides: []string{bench.SheddingOff}}
		if k > 0 {
			v.Overrides = append(v.Overrides, bench.ReplicasOverride(dsns[1:1+k]))
		}
		s, err := bench.StartService(dsns[0], v)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
		if err := waitHealthy(s, k); err != nil {
			return err
		}
	}
	paths := samplePaths(spec.Projects)
	if err := bench.SameAnswers(e.ctx, svcs[0].URL, svcs[len(svcs)-1].URL, nil, paths); err != nil {
		return fmt.Errorf("the replicas do not answer as the primary does: %w", err)
	}
	out.BodiesCompared = len(paths)

	selects := func() ([]int64, error) {
		var counts []int64
		err := tb.Do(func(t *bench.TB) {
			for _, n := range nodes {
				counts = append(counts, c.SelectCount(t, n))
			}
		})
		return counts, err
	}
	d := database{spec: spec, dsn: dsns[0]}
	out.Arms = make([]ReplicaArm, len(svcs))
	var arms []arm
	for k, s := range svcs {
		a := &out.Arms[k]
		a.Replicas = k
		arms = append(arms, metered(e.serviceArm(s, d), meter{svc: s, dbs: dbs, ports: ports, counters: selects}, &a.Usage, &a.Selects))
	}
	sums, err := e.compare(replicaClients, arms...)
	if err != nil {
		return err
	}
	for k := range out.Arms {
		a := &out.Arms[k]
		a.Summary = sums[k]
		logf("  %d replicas: %.0f/s p50 %s p99 %s errors %d | SELECTs %v | service %s CPU/request, databases %s CPU/request",
			k, a.RPS, fmtMs(a.P50), fmtMs(a.P99), a.Errors, a.Selects, fmtMs(a.ServiceCPUPerRequest()), fmtMs(perRequest(a.DBCPUTotal(), a.Answered)))
	}
	out.Command = e.command(replicaClients, random(d, nil)(0))
	e.rep.Replicas = out
	return nil
}

// directDSN is server n's service DSN to its published port. The DSNs the
// cluster hands out go through an in-process toxiproxy per server (its
// fault injection), whose copying would be counted in this process's CPU
// (taken for the service's) and add a hop to every read.
func directDSN(c *replicatest.Cluster, n replicatest.Node) (dsn string, port int, err error) {
	cfg, err := mysql.ParseDSN(c.DSN(n))
	if err != nil {
		return "", 0, err
	}
	admin, err := mysql.ParseDSN(c.AdminDSN(n))
	if err != nil {
		return "", 0, err
	}
	cfg.Addr = admin.Addr
	_, p, err := net.SplitHostPort(admin.Addr)
	if err == nil {
		port, err = strconv.Atoi(p)
	}
	return cfg.FormatDSN(), port, err
}

// onServer runs stmt on a pool of its own.
func onServer(dsn, stmt string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(stmt)
	return err
}

// waitHealthy waits until s has its first n replicas in rotation.
func waitHealthy(s *bench.Service, n int) error {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		healthy := 0
		for i := range n {
			if s.Svc.Store.ReplicaHealthy(i) {
				healthy++
			}
		}
		if healthy == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d replicas healthy after 30 s", s.Variant.Name, healthy, n)
		}
	}
}
