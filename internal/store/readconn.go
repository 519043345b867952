package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/core/breaker"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
	"github.com/zeromicro/go-zero/core/trace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
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

// readConn is the models' sqlx.SqlConn: go-zero's, with two additions on
// the read path.
//
// Server-side deadlines: each read carries its remaining deadline to the
// database server itself. go-sql-driver/mysql cancels a query by closing its
// socket, but the server keeps executing the statement until it ends on its
// own (go-sql-driver/mysql#731); with a server-side limit the server stops
// too. MySQL takes the MAX_EXECUTION_TIME optimizer hint (SELECT only, in
// ms); MariaDB takes SET STATEMENT max_statement_time=<seconds> FOR
// <statement>. The flavour is detected once, on the first read that finds
// the server up.
//
// Explicit scanning: go-zero maps every row by reflection (sqlx's
// unmarshalRow builds a map of the struct's tags per row), which was a third
// of the service's CPU. Destinations a scan plan covers (scan.go: structs
// with db tags, and slices of them) are read here instead, with what
// go-zero's QueryRow(s)Ctx wraps around a query kept: a breaker (fed by the
// same acceptable errors) and a "sql" client span. Any other destination
// goes to go-zero as before.
type readConn struct {
	sqlx.SqlConn
	db                 *sql.DB
	brk                breaker.Breaker
	serverSideDeadline bool

	mu      sync.Mutex
	flavour Flavour
}

func newReadConn(conn sqlx.SqlConn, db *sql.DB, serverSideDeadline bool) *readConn {
	return &readConn{SqlConn: conn, db: db, brk: breaker.NewBreaker(), serverSideDeadline: serverSideDeadline}
}

// QueryRowCtx reads one row into v (with the server-side deadline).
func (c *readConn) QueryRowCtx(ctx context.Context, v any, q string, args ...any) error {
	q = c.limited(ctx, q)
	if s, ok := scannerOf(v, false); ok {
		return c.query(ctx, queryRowSpan, s.scan, q, args)
	}
	return c.SqlConn.QueryRowCtx(ctx, v, q, args...)
}

// QueryRowsCtx reads all rows into v (with the server-side deadline).
func (c *readConn) QueryRowsCtx(ctx context.Context, v any, q string, args ...any) error {
	q = c.limited(ctx, q)
	if s, ok := scannerOf(v, true); ok {
		return c.query(ctx, queryRowsSpan, s.scan, q, args)
	}
	return c.SqlConn.QueryRowsCtx(ctx, v, q, args...)
}

// QueryRowPartialCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *readConn) QueryRowPartialCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowPartialCtx(ctx, v, c.limited(ctx, q), args...)
}

// QueryRowsPartialCtx runs q with the caller's remaining deadline as its server-side limit.
func (c *readConn) QueryRowsPartialCtx(ctx context.Context, v any, q string, args ...any) error {
	return c.SqlConn.QueryRowsPartialCtx(ctx, v, c.limited(ctx, q), args...)
}

// The span options of go-zero's "sql" spans (kind client, sql.method), built once.
var (
	queryRowSpan  = sqlSpan("QueryRow")
	queryRowsSpan = sqlSpan("QueryRows")
)

func sqlSpan(method string) []oteltrace.SpanStartOption {
	return []oteltrace.SpanStartOption{oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(attribute.String("sql.method", method))}
}

// query is what go-zero's QueryRow(s)Ctx does, with scan instead of the
// reflective mapping: a "sql" client span (attribute sql.method), the
// breaker, the query, the scan.
func (c *readConn) query(ctx context.Context, spanOpts []oteltrace.SpanStartOption, scan func(*sql.Rows) error, q string, args []any) (err error) {
	ctx, span := trace.TracerFromContext(ctx).Start(ctx, "sql", spanOpts...)
	defer func() {
		if err == nil || errors.Is(err, sql.ErrNoRows) {
			span.SetStatus(codes.Ok, "")
		} else {
			span.SetStatus(codes.Error, err.Error())
			span.RecordError(err)
		}
		span.End()
	}()
	var scanFailed bool
	return c.brk.DoWithAcceptableCtx(ctx, func() error {
		rows, err := c.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := scan(rows); err != nil {
			// As go-zero: a failed scan (no row, a type mismatch) is not
			// the database struggling; a deadline during the scan is.
			scanFailed = !errors.Is(err, context.DeadlineExceeded)
			return err
		}
		return rows.Err()
	}, func(err error) bool { return scanFailed || readAcceptable(err) })
}

// readAcceptable: the errors go-zero's conn does not count against its
// breaker (no rows, a finished transaction, the caller's cancellation),
// and the service's own (breakerAcceptable).
func readAcceptable(err error) bool {
	return err == nil || errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) ||
		errors.Is(err, context.Canceled) || breakerAcceptable(err)
}

// limited rewrites a SELECT with the server-side limit of its flavour.
func (c *readConn) limited(ctx context.Context, q string) string {
	if !c.serverSideDeadline {
		return q
	}
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
func (c *readConn) detect(ctx context.Context) Flavour {
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
