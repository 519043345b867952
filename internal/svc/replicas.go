package svc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/metric"
	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/model"
)

// Reads are the models of one database server's reads — the primary's or a
// replica's. A request reads its whole record from one Reads: one server's
// view of it, never assembled from two.
type Reads struct {
	// Name is "primary" or "replica-<n>" (the db_name of its pool metrics).
	Name                    string
	ProjectModel            model.ProjectModel
	ProjectInstitutionModel model.ProjectInstitutionModel
	ProjectReportModel      model.ProjectReportModel

	replica *replica // nil for the primary
}

// IsReplica reports whether r are a replica's reads.
func (r *Reads) IsReplica() bool { return r.replica != nil }

// How replicas are watched.
const (
	// heartbeatEvery: the primary's heartbeat row is written this often.
	heartbeatEvery = time.Second
	// checkEvery: each replica is pinged and its lag read this often; a
	// replica that stops answering is out of rotation within about two
	// checks (a ping waits at most checkTimeout).
	checkEvery   = 500 * time.Millisecond
	checkTimeout = 500 * time.Millisecond
)

// ReplicaSet routes reads to healthy replicas. A replica is healthy while
// it answers a ping and its data is at most Mysql.MaxReplicaLag behind the
// primary's. The lag is measured with a heartbeat: this process writes its
// own clock into its row of replication_heartbeat on the primary every
// second, reads the row back from each replica, and compares it with the
// last value it wrote — the same on MySQL and MariaDB, needing no
// replication privilege and no clock agreement between the servers. If the
// primary cannot be written to, the replicas keep the lag they had at its
// last successful write.
type ReplicaSet struct {
	replicas  []*replica
	next      atomic.Uint64
	maxLag    time.Duration
	instance  uint64
	heartbeat model.ReplicationHeartbeatModel // the primary's
	lastBeat  atomic.Int64                    // UnixNano of the last beat written on the primary

	stop context.CancelFunc
	wg   sync.WaitGroup
}

type replica struct {
	reads     Reads
	db        *sql.DB
	heartbeat model.ReplicationHeartbeatModel
	healthy   atomic.Bool
}

var (
	metricReplicaHealthy = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "healthy",
		Help: "1 while the replica is in rotation, else 0.", Labels: []string{"replica"},
	})
	metricReplicaLag = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "lag_seconds",
		Help: "How far the replica's data is behind the primary's (heartbeat).", Labels: []string{"replica"},
	})
	metricReplicaEjections = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "ejections_total",
		Help: "Replicas taken out of rotation, by reason: down, lag, failed_read.", Labels: []string{"replica", "reason"},
	})
	metricPrimaryFallbacks = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "read", Name: "primary_fallbacks_total",
		Help: "Requests whose reads went to the primary although replicas are configured, by reason.", Labels: []string{"reason"},
	})
	metricReadRetries = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "read", Name: "retries_total",
		Help: "Requests whose reads were retried on another server after a replica failed them.", Labels: []string{"to"},
	})
)

// openReplicas opens a pool per replica DSN (the primary's pool settings)
// and starts watching them; primary is the primary's conn (heartbeats).
func openReplicas(c config.MysqlConf, primary sqlx.SqlConn) (*ReplicaSet, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	set := &ReplicaSet{
		maxLag:    c.MaxReplicaLag,
		instance:  binary.BigEndian.Uint64(b[:]) >> 1, // fits a signed BIGINT too
		heartbeat: model.NewReplicationHeartbeatModel(primary),
	}
	for i, dsn := range c.Replicas {
		rc := c
		rc.DataSource = dsn
		db, err := OpenDB(rc)
		if err != nil {
			set.closePools()
			return nil, fmt.Errorf("Mysql.Replicas[%d]: %w", i, err)
		}
		conn := newReadConn(sqlx.NewSqlConnFromDB(db, sqlx.WithAcceptable(breakerAcceptable)), db, c.ServerSideDeadline)
		r := &replica{db: db, heartbeat: model.NewReplicationHeartbeatModel(conn)}
		r.reads = Reads{
			Name:                    "replica-" + strconv.Itoa(i+1),
			ProjectModel:            model.NewProjectModel(conn),
			ProjectInstitutionModel: model.NewProjectInstitutionModel(conn),
			ProjectReportModel:      model.NewProjectReportModel(conn),
			replica:                 r,
		}
		metricReplicaHealthy.Set(0, r.reads.Name)
		set.replicas = append(set.replicas, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	set.stop = cancel
	set.wg.Add(1 + len(set.replicas))
	go set.beat(ctx)
	for _, r := range set.replicas {
		go set.watch(ctx, r)
	}
	return set, nil
}

// pick is a healthy replica's reads (round robin), or nil if none is healthy.
func (s *ReplicaSet) pick(except *replica) *Reads {
	n := uint64(len(s.replicas))
	start := s.next.Add(1)
	for i := range n {
		r := s.replicas[(start+i)%n]
		if r != except && r.healthy.Load() {
			return &r.reads
		}
	}
	return nil
}

// eject takes r out of rotation until a check finds it healthy again.
func (s *ReplicaSet) eject(r *replica, reason string) {
	if r.healthy.Swap(false) {
		metricReplicaEjections.Inc(r.reads.Name, reason)
		metricReplicaHealthy.Set(0, r.reads.Name)
		logx.Errorf("replica %s out of rotation: %s", r.reads.Name, reason)
	}
}

// Healthy reports whether replica i (from 0, in Mysql.Replicas order) is in rotation.
func (s *ReplicaSet) Healthy(i int) bool { return s.replicas[i].healthy.Load() }

// AnyHealthy reports whether any replica is in rotation.
func (s *ReplicaSet) AnyHealthy() bool {
	for _, r := range s.replicas {
		if r.healthy.Load() {
			return true
		}
	}
	return false
}

func (s *ReplicaSet) beat(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		at := time.Now().UTC().Truncate(time.Microsecond)
		bctx, cancel := context.WithTimeout(ctx, heartbeatEvery)
		err := s.heartbeat.Beat(bctx, s.instance, at)
		cancel()
		if err == nil {
			s.lastBeat.Store(at.UnixNano())
		} else if ctx.Err() == nil {
			logx.Errorf("replication heartbeat on the primary failed (replicas keep the lag of the last beat): %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *ReplicaSet) watch(ctx context.Context, r *replica) {
	defer s.wg.Done()
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		s.check(ctx, r)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check pings r and measures its lag, and moves it in or out of rotation.
func (s *ReplicaSet) check(ctx context.Context, r *replica) {
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := r.db.PingContext(cctx); err != nil {
		if ctx.Err() == nil {
			s.eject(r, "down")
		}
		return
	}
	seen, err := r.heartbeat.LastBeat(cctx, s.instance)
	last := s.lastBeat.Load()
	switch {
	case ctx.Err() != nil:
		return
	case errors.Is(err, model.ErrNotFound) || last == 0:
		s.eject(r, "lag") // no heartbeat there yet: its lag is unknown
		return
	case err != nil:
		s.eject(r, "down")
		return
	}
	lag := max(time.Unix(0, last).Sub(seen), 0)
	metricReplicaLag.Set(lag.Seconds(), r.reads.Name)
	if lag > s.maxLag {
		s.eject(r, "lag")
		return
	}
	if !r.healthy.Swap(true) {
		metricReplicaHealthy.Set(1, r.reads.Name)
		logx.Infof("replica %s in rotation (lag %s)", r.reads.Name, lag.Round(time.Millisecond))
	}
}

// registerPoolMetrics exports each replica pool's DBStats (db_name replica-<n>).
func (s *ReplicaSet) registerPoolMetrics(reg prometheus.Registerer) error {
	for _, r := range s.replicas {
		if err := reg.Register(collectors.NewDBStatsCollector(r.db, r.reads.Name)); err != nil {
			return err
		}
	}
	return nil
}

// close stops the watchers and closes the replicas' pools.
func (s *ReplicaSet) close() error {
	s.stop()
	s.wg.Wait()
	return s.closePools()
}

func (s *ReplicaSet) closePools() error {
	var errs []error
	for _, r := range s.replicas {
		errs = append(errs, r.db.Close())
	}
	return errors.Join(errs...)
}
