package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/errs"
)

// Driver defaults the service relies on, applied when the DSN leaves them out.
const (
	defaultDialTimeout  = 3 * time.Second
	defaultReadTimeout  = 30 * time.Second
	defaultWriteTimeout = 30 * time.Second
)

// OpenDB opens a pool with the service's driver settings and the configured
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

// DriverConfig parses a DSN and sets what the service relies on:
//
//   - always (whatever the DSN says): parseTime and loc=UTC (times in the
//     API are UTC) and autocommit=1 on every session (an audit row is
//     durable once its INSERT returns, whatever the server's default);
//   - unless the DSN sets them: the session time zone '+00:00', dial/read/
//     write timeouts of 3 s / 30 s / 30 s (a dead server must not hang a
//     connection forever) and interpolateParams (one round trip per query
//     instead of a prepare, execute and close).
//
// The error never quotes the DSN: it may hold a password.
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
	cfg.Params["autocommit"] = "1"
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

// The server errors that are a sign of a struggling (or going) server, not
// of the statement: a statement timed out (MySQL 3024, MariaDB 1969), a lock
// wait timed out (1205), too many connections (1040), the server shutting
// down (1053).
var strugglingServer = map[uint16]bool{3024: true, 1969: true, 1205: true, 1040: true, 1053: true}

// breakerAcceptable tells go-zero's database breakers which errors are not a
// sign of a struggling database: an error the server answered at once about
// the statement itself — a duplicate key (as sqlx.NewMysql accepts), a
// privilege refused, a missing table — and failures that cost nothing
// (errs.FailsFast). So a heartbeat or an audit row the server refuses never
// opens the breaker every request of the primary shares; slow failures do.
func breakerAcceptable(err error) bool {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) && !strugglingServer[myErr.Number] {
		return true
	}
	return errs.FailsFast(err)
}
