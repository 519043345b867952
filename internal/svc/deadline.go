package svc

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// Flavour is the kind of server behind the pool, which decides how a
// statement's time limit is written.
type Flavour int

// The server flavours the service knows.
const (
	FlavourUnknown Flavour = iota
	FlavourMySQL
	FlavourMariaDB
)

func (f Flavour) String() string {
	switch f {
	case FlavourMySQL:
		return "mysql"
	case FlavourMariaDB:
		return "mariadb"
	default:
		return "unknown"
	}
}

// deadlineConn carries each read's remaining deadline to the database
// server itself. go-sql-driver/mysql cancels a query by closing its socket,
// but the server keeps executing the statement until it ends on its own
// (go-sql-driver/mysql#731); with a server-side limit the server stops too.
// MySQL takes the MAX_EXECUTION_TIME optimizer hint (SELECT only, in ms);
// MariaDB takes SET STATEMENT max_statement_time=<seconds> FOR <statement>.
// The flavour is detected once, on the first read that finds the server up.
type deadlineConn struct {
	sqlx.SqlConn
	db *sql.DB

	mu      sync.Mutex
	flavour Flavour
}

func newDeadlineConn(conn sqlx.SqlConn, db *sql.DB) *deadlineConn {
	return &deadlineConn{SqlConn: conn, db: db}
}

// QueryRowCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *deadlineConn) QueryRowCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowCtx(ctx, v, c.limited(ctx, q), args...)
}

// QueryRowsCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *deadlineConn) QueryRowsCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowsCtx(ctx, v, c.limited(ctx, q), args...)
}

// QueryRowPartialCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *deadlineConn) QueryRowPartialCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowPartialCtx(ctx, v, c.limited(ctx, q), args...)
}

// QueryRowsPartialCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *deadlineConn) QueryRowsPartialCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowsPartialCtx(ctx, v, c.limited(ctx, q), args...)
}

// limited rewrites a SELECT with the server-side limit of its flavour.
func (c *deadlineConn) limited(ctx context.Context, q string) string {
	deadline, ok := ctx.Deadline()
	if !ok || !isSelect(q) {
		return q
	}
	ms := time.Until(deadline).Milliseconds()
	if ms < 1 {
		ms = 1 // already late: the client side cancels; the server stops at once
	}
	switch c.detect(ctx) {
	case FlavourMySQL:
		return q[:len("select")] + " /*+ MAX_EXECUTION_TIME(" + strconv.FormatInt(ms, 10) + ") */" + q[len("select"):]
	case FlavourMariaDB:
		return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) + " FOR " + q
	default:
		return q
	}
}

// detect returns the server's flavour, asking the server once it answers.
func (c *deadlineConn) detect(ctx context.Context) Flavour {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flavour != FlavourUnknown {
		return c.flavour
	}
	var version string
	if err := c.db.QueryRowContext(ctx, "select version()").Scan(&version); err != nil {
		return FlavourUnknown // the read itself will report the server's state
	}
	c.flavour = flavourOf(version)
	logx.Infof("database server: %s (%s); request deadlines are enforced server-side", c.flavour, version)
	return c.flavour
}

func flavourOf(version string) Flavour {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return FlavourMariaDB
	}
	return FlavourMySQL
}

func isSelect(q string) bool {
	return len(q) > len("select") && strings.EqualFold(q[:len("select")], "select")
}
