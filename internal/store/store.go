// Package store is the service's data layer: the connection pools (the
// primary's and, with Mysql.Replicas, one per read replica), the goctl
// models over them, where a request's reads go, and the audit trail.
//
// Callers see two things: Read runs a request's reads on ONE server — a
// healthy replica, else the primary — and runs them once more elsewhere if
// that replica went away; AuditTrail writes on the primary. Health, lag,
// routing, retry, the breaker rules and server-side deadlines are policies
// of the store, not of the logic.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/errs"
)

func init() {
	// go-zero's statement log formats every query with its arguments (trial
	// identifiers) and writes them to the log, slow ones included. The
	// service logs its own slow reads by name and duration instead.
	sqlx.DisableLog()
}

// Store is the data layer of the process.
type Store struct {
	primary  *server
	replicas *replicaSet // nil without Mysql.Replicas

	trailOnce sync.Once
	trail     *AuditTrail // started by the first AuditTrail call
}

// server is one database server: its pool and the models over it.
type server struct {
	name    string // "primary" or "replica-<n>": the db_name of its pool metrics
	db      *sql.DB
	models  Models
	replica *replicaState // nil for the primary
}

// Option changes what Open builds. Tests use them to put fakes in place of
// the database; production passes none.
type Option func(*options)

type options struct {
	db    *sql.DB
	edits []func(*Models)
}

// WithDB makes the primary use db instead of a pool opened from the config.
func WithDB(db *sql.DB) Option {
	return func(o *options) { o.db = db }
}

// WithModels lets edit replace models (fakes) once each server's are built.
func WithModels(edit func(*Models)) Option {
	return func(o *options) { o.edits = append(o.edits, edit) }
}

// Open opens the pools (lazily: no connection is made until the first
// query), builds the models, starts watching the replicas and the audit
// trail's writers. Close stops everything.
func Open(c config.MysqlConf, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db := o.db
	if db == nil {
		var err error
		if db, err = OpenDB(c); err != nil {
			return nil, err
		}
	}
	s := &Store{primary: newServer("primary", db, c, o.edits)}
	if len(c.Replicas) > 0 {
		var replicas []*server
		for i, dsn := range c.Replicas {
			rc := c
			rc.DataSource = dsn
			rdb, err := OpenDB(rc)
			if err != nil {
				for _, r := range replicas {
					_ = r.db.Close()
				}
				_ = db.Close()
				return nil, fmt.Errorf("Mysql.Replicas[%d]: %w", i, err)
			}
			r := newServer(replicaName(i), rdb, c, o.edits)
			r.replica = &replicaState{}
			replicas = append(replicas, r)
		}
		s.replicas = newReplicaSet(s.primary.models.ReplicationHeartbeat, replicas, c.MaxReplicaLag)
	}
	return s, nil
}

func newServer(name string, db *sql.DB, c config.MysqlConf, edits []func(*Models)) *server {
	conn := newReadConn(sqlx.NewSqlConnFromDB(db, sqlx.WithAcceptable(breakerAcceptable)), db, c.ServerSideDeadline)
	s := &server{name: name, db: db, models: newModels(conn)}
	for _, edit := range edits {
		edit(&s.models)
	}
	return s
}

// Read runs fn — one request's reads — with the models of one server: a
// healthy replica (round robin), else the primary, so that an answer is
// one server's view, never assembled from two. fn must only read, and keep
// nothing of a run that failed: if it fails on a replica in a way the
// replica going away explains (unreachable, reset, silent past its share of
// the deadline), the replica leaves rotation and fn runs once more on
// another server within what is left of ctx's deadline. A replica gets at
// most half of the time left, so a silent one leaves time for the retry.
func (s *Store) Read(ctx context.Context, fn func(ctx context.Context, m *Models) error) error {
	first := s.pickServer()
	if first.replica == nil {
		return fn(ctx, &first.models)
	}
	half, cancel := halfOfDeadline(ctx)
	err := fn(half, &first.models)
	cancel()
	if err == nil || ctx.Err() != nil || !replicaGone(err) {
		return err
	}
	logx.WithContext(ctx).Infof("reads on %s failed (%v); retrying on another server", first.name, errs.Classify(err).Code)
	s.replicas.eject(first, "failed_read")
	next := s.replicas.pick(first)
	if next != nil {
		metricReadRetries.Inc("replica")
	} else {
		metricReadRetries.Inc("primary")
		metricPrimaryFallbacks.Inc("retry")
		next = s.primary
	}
	return fn(ctx, &next.models)
}

// pickServer is where a request's reads go: a healthy replica, else the primary.
func (s *Store) pickServer() *server {
	if s.replicas == nil {
		return s.primary
	}
	if r := s.replicas.pick(nil); r != nil {
		return r
	}
	metricPrimaryFallbacks.Inc("no_healthy_replica")
	return s.primary
}

// halfOfDeadline is ctx with at most half of its remaining time.
func halfOfDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/2)
}

// replicaGone: a failure a replica going away explains (retrying elsewhere
// may succeed), as opposed to an answer (not found) or a bug.
func replicaGone(err error) bool {
	switch errs.Classify(err).Code {
	case errs.Unavailable, errs.Timeout:
		return true
	}
	return false
}

// AuditTrail is the audit trail, written on the primary; its writers start
// with the first call.
func (s *Store) AuditTrail() *AuditTrail {
	s.trailOnce.Do(func() {
		s.trail = NewAuditTrail(s.primary.models.AccessAudit, s.primary.models.AccessAuditOutcome)
	})
	return s.trail
}

// Primary are the primary's models (writes; reads that must see the latest).
func (s *Store) Primary() *Models { return &s.primary.models }

// PingPrimary checks that the primary answers.
func (s *Store) PingPrimary(ctx context.Context) error { return s.primary.db.PingContext(ctx) }

// ReplicaHealthy reports whether replica i (from 0, in Mysql.Replicas order)
// is in rotation; false without replicas.
func (s *Store) ReplicaHealthy(i int) bool {
	return s.replicas != nil && s.replicas.servers[i].replica.healthy.Load()
}

// AnyReplicaHealthy reports whether any replica is in rotation.
func (s *Store) AnyReplicaHealthy() bool { return s.replicas != nil && s.replicas.anyHealthy() }

// Close finishes the audit writes, stops the replica watch and closes the
// pools; call it once the HTTP server has drained.
func (s *Store) Close() error {
	s.trailOnce.Do(func() {}) // no trail starts from now on
	if s.trail != nil {
		s.trail.Close()
	}
	var errs []error
	if s.replicas != nil {
		s.replicas.close()
		for _, r := range s.replicas.servers {
			errs = append(errs, r.db.Close())
		}
	}
	return errors.Join(append(errs, s.primary.db.Close())...)
}

// RegisterPoolMetrics exports the pools' sql.DBStats (open, in use, idle,
// waits, closes by reason) as go_sql_* metrics: the primary's labelled
// db_name=name, each replica's db_name=replica-<n>. go-zero's own pool
// gauges only cover pools it opens itself.
func (s *Store) RegisterPoolMetrics(reg prometheus.Registerer, name string) error {
	if err := reg.Register(collectors.NewDBStatsCollector(s.primary.db, name)); err != nil {
		return err
	}
	if s.replicas != nil {
		for _, r := range s.replicas.servers {
			if err := reg.Register(collectors.NewDBStatsCollector(r.db, r.name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PrimaryStats are the primary pool's statistics (database/sql).
func (s *Store) PrimaryStats() sql.DBStats { return s.primary.db.Stats() }
