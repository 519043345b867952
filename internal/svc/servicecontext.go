// Package svc builds what every request shares: the one MySQL pool and the
// models on top of it.
package svc

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
	"github.com/zeromicro/go-zero/core/syncx"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/middleware"
	"github.com/clinicaldata/projectsvc/model"
)

// ServiceContext holds the process-wide dependencies of the handlers.
type ServiceContext struct {
	Config config.Config
	// DB is the one pool of the process; Close closes it.
	DB *sql.DB

	// Flights coalesces identical in-flight loads; nil when Coalesce is off.
	Flights syncx.SingleFlight

	ProjectModel            model.ProjectModel
	ProjectInstitutionModel model.ProjectInstitutionModel
	ProjectReportModel      model.ProjectReportModel
	AccessAuditModel        model.AccessAuditModel

	// Audit and Auth are the route middlewares project.api declares.
	Audit rest.Middleware
	Auth  rest.Middleware
	// Verifier checks bearer tokens; nil when Auth.Disabled.
	Verifier *auth.Verifier
	// AuditTrail writes access_audit; nil when Auth.Disabled.
	AuditTrail *middleware.AuditTrail
	// Replicas route reads to healthy read replicas; nil without Mysql.Replicas.
	Replicas *ReplicaSet
}

// Option changes what NewServiceContext builds. Tests use them to put fakes
// in place of the database; production passes none.
type Option func(*options)

type options struct {
	db    *sql.DB
	edits []func(*ServiceContext)
}

// WithDB makes the context use db instead of opening a pool from the config.
func WithDB(db *sql.DB) Option {
	return func(o *options) { o.db = db }
}

// WithModels lets edit replace models once they are built, e.g.
// s.ProjectModel = fake; the middlewares are built on the result.
func WithModels(edit func(*ServiceContext)) Option {
	return func(o *options) { o.edits = append(o.edits, edit) }
}

// Driver defaults the service relies on, applied when the DSN leaves them out.
const (
	defaultDialTimeout  = 3 * time.Second
	defaultReadTimeout  = 30 * time.Second
	defaultWriteTimeout = 30 * time.Second
)

func init() {
	// go-zero's statement log formats every query with its arguments (trial
	// identifiers) and writes them to the log, slow ones included. The
	// service logs its own slow reads by model and duration instead.
	sqlx.DisableLog()
}

// NewServiceContext opens the pool (lazily: no connection is made until the
// first query) and builds the models on it.
func NewServiceContext(c config.Config, opts ...Option) (*ServiceContext, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db := o.db
	if db == nil {
		var err error
		if db, err = OpenDB(c.Mysql); err != nil {
			return nil, err
		}
	}
	conn := newReadConn(sqlx.NewSqlConnFromDB(db, sqlx.WithAcceptable(breakerAcceptable)), db, c.Mysql.ServerSideDeadline)
	var flights syncx.SingleFlight
	if c.Coalesce {
		flights = syncx.NewSingleFlight()
	}
	s := &ServiceContext{
		Config:                  c,
		DB:                      db,
		Flights:                 flights,
		ProjectModel:            model.NewProjectModel(conn),
		ProjectInstitutionModel: model.NewProjectInstitutionModel(conn),
		ProjectReportModel:      model.NewProjectReportModel(conn),
		AccessAuditModel:        model.NewAccessAuditModel(conn),
	}
	for _, edit := range o.edits {
		edit(s)
	}
	if len(c.Mysql.Replicas) > 0 {
		var err error
		if s.Replicas, err = openReplicas(c.Mysql, conn); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if !c.Auth.Disabled {
		s.Verifier = auth.NewVerifier(c.Auth)
		s.AuditTrail = middleware.NewAuditTrail(s.AccessAuditModel)
	}
	s.Auth = middleware.NewAuthMiddleware(s.Verifier).Handle
	s.Audit = middleware.NewAuditMiddleware(s.AuditTrail).Handle
	return s, nil
}

// PickReads chooses the server of one request's reads: a healthy replica
// (round robin), else the primary.
func (s *ServiceContext) PickReads() *Reads {
	if s.Replicas == nil {
		return s.primaryReads()
	}
	if r := s.Replicas.pick(nil); r != nil {
		return r
	}
	metricPrimaryFallbacks.Inc("no_healthy_replica")
	return s.primaryReads()
}

// primaryReads are the primary's reads: the context's models as they are
// now (tests and the benchmark replace them).
func (s *ServiceContext) primaryReads() *Reads {
	return &Reads{Name: "primary", ProjectModel: s.ProjectModel,
		ProjectInstitutionModel: s.ProjectInstitutionModel, ProjectReportModel: s.ProjectReportModel}
}

// RetryReads is where a request's reads go after failed, a replica's,
// failed them in a way its going away explains: failed leaves rotation and
// the reads go to another healthy replica, else the primary. It returns nil
// when failed is the primary (nothing to retry on).
func (s *ServiceContext) RetryReads(failed *Reads) *Reads {
	if !failed.IsReplica() {
		return nil
	}
	s.Replicas.eject(failed.replica, "failed_read")
	if r := s.Replicas.pick(failed.replica); r != nil {
		metricReadRetries.Inc("replica")
		return r
	}
	metricReadRetries.Inc("primary")
	metricPrimaryFallbacks.Inc("retry")
	return s.primaryReads()
}

// Close finishes the audit writes, stops the key refresh and the replica
// watch, and closes the pools; call it once the HTTP server has drained.
func (s *ServiceContext) Close() error {
	if s.AuditTrail != nil {
		s.AuditTrail.Close()
	}
	if s.Verifier != nil {
		s.Verifier.Close()
	}
	var err error
	if s.Replicas != nil {
		err = s.Replicas.close()
	}
	return errors.Join(err, s.DB.Close())
}

// OpenDB opens a pool with the service's driver defaults and the configured
// pool settings. go-zero's sqlx.NewMysql would hard-code 64 open / 64 idle /
// 1 minute lifetime; the pool is opened here so operators decide.
func OpenDB(c config.MysqlConf) (*sql.DB, error) {
	cfg, err := DriverConfig(c.DataSource)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	db.SetConnMaxIdleTime(c.ConnMaxIdleTime)
	return db, nil
}

// DriverConfig parses a DSN and fills in what the service needs and the DSN
// leaves out: parseTime and UTC (times in the API are UTC), the session time
// zone, dial/read/write timeouts (a dead server must not hang a connection
// forever) and interpolateParams (one round trip per query instead of a
// prepare, execute and close). The error never quotes the DSN: it may hold a
// password.
func DriverConfig(dsn string) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("Mysql.DataSource is not a valid DSN")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	if _, ok := cfg.Params["time_zone"]; !ok {
		cfg.Params["time_zone"] = "'+00:00'"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultDialTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = defaultReadTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if !strings.Contains(dsn, "interpolateParams=") {
		cfg.InterpolateParams = true
	}
	return cfg, nil
}

// mysqlErrDuplicateEntry is acceptable to go-zero's own MySQL breaker too.
const mysqlErrDuplicateEntry = 1062

// breakerAcceptable tells go-zero's database breaker which errors are not a
// sign of a struggling database: a duplicate key (as sqlx.NewMysql does), and
// failures that cost nothing (errs.FailsFast).
func breakerAcceptable(err error) bool {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && myErr.Number == mysqlErrDuplicateEntry {
		return true
	}
	return errs.FailsFast(err)
}

// RegisterPoolMetrics exports the pools' sql.DBStats (open, in use, idle,
// waits, closes by reason) as go_sql_* metrics: the primary's labelled
// db_name=name, each replica's db_name=replica-<n>. go-zero's own pool
// gauges only cover pools it opens itself.
func (s *ServiceContext) RegisterPoolMetrics(reg prometheus.Registerer, name string) error {
	if err := reg.Register(collectors.NewDBStatsCollector(s.DB, name)); err != nil {
		return err
	}
	if s.Replicas != nil {
		return s.Replicas.registerPoolMetrics(reg)
	}
	return nil
}
