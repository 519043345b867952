package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/breaker"
	"github.com/zeromicro/go-zero/core/stores/sqlx"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const siteQuery = "select `id`, `name`, `joined_at`, `note` from `site` where `id` = ?"

// versioned is a server of the given version() whose other queries answer
// one site row; versionErr makes version() fail.
func versioned(version string, versionErr *atomic.Pointer[error]) *fakeServer {
	return &fakeServer{query: func(_ context.Context, q string, _ []driver.NamedValue) (*fakeRows, error) {
		if q == "select version()" {
			if e := versionErr.Load(); e != nil {
				return nil, *e
			}
			return result([]string{"version()"}, []driver.Value{version}), nil
		}
		return result([]string{"id", "name", "joined_at", "note"}, []driver.Value{int64(1), "a", joined, nil}), nil
	}}
}

// TestLimited_TheServersFlavourIsAskedOnceAndDecidesTheSyntax: the first
// read with a deadline asks the server what it is, once; every SELECT then
// carries the deadline in that server's syntax.
func TestLimited_TheServersFlavourIsAskedOnceAndDecidesTheSyntax(t *testing.T) {
	for _, tc := range []struct {
		version string
		prefix  string
	}{
		{"10.11.6-MariaDB-0+deb12u1", "SET STATEMENT max_statement_time="},
		{"8.0.36", "select /*+ MAX_EXECUTION_TIME("},
		{"11.4.2-MARIADB", "SET STATEMENT max_statement_time="},
	} {
		t.Run(tc.version, func(t *testing.T) {
			var noErr atomic.Pointer[error]
			srv := versioned(tc.version, &noErr)
			db := openFake(t, srv)
			c := newReadConn(sqlx.NewSqlConnFromDB(db), db, true)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range 3 {
				var s site
				if err := c.QueryRowCtx(ctx, &s, siteQuery, 1); err != nil || s.ID != 1 {
					t.Fatalf("read: %+v, %v", s, err)
				}
			}
			seen := srv.seen()
			if len(seen) != 4 || seen[0] != "select version()" {
				t.Fatalf("queries %q, want version() once, then the 3 reads", seen)
			}
			for _, q := range seen[1:] {
				if !strings.HasPrefix(q, tc.prefix) || !strings.Contains(q, "`site`") {
					t.Fatalf("read sent as %q, want it limited with %q", q, tc.prefix)
				}
			}
		})
	}
}

// TestLimited_AServerThatCannotSayWhatItIsIsAskedAgain: while version()
// fails the reads go out unlimited, and the next read asks again.
func TestLimited_AServerThatCannotSayWhatItIsIsAskedAgain(t *testing.T) {
	var versionErr atomic.Pointer[error]
	starting := errors.New("server starting")
	versionErr.Store(&starting)
	srv := versioned("8.0.36", &versionErr)
	db := openFake(t, srv)
	c := newReadConn(sqlx.NewSqlConnFromDB(db), db, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var s site
	if err := c.QueryRowCtx(ctx, &s, siteQuery, 1); err != nil {
		t.Fatal(err)
	}
	versionErr.Store(nil)
	if err := c.QueryRowsCtx(ctx, &[]site{}, siteQuery, 1); err != nil {
		t.Fatal(err)
	}
	seen := srv.seen()
	if len(seen) != 4 || seen[1] != siteQuery || seen[2] != "select version()" || !strings.HasPrefix(seen[3], "select /*+ MAX_EXECUTION_TIME(") {
		t.Fatalf("queries %q: want version() failing, the read unlimited, version() again, the read limited", seen)
	}
}

func TestLimited_OnlySelectsWithADeadlineWhenEnabled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	off := &readConn{flavour: FlavourMySQL, serverSideDeadline: false}
	if got := off.limited(ctx, siteQuery); got != siteQuery {
		t.Fatalf("Mysql.ServerSideDeadline off: %q, want the query unchanged", got)
	}
	on := &readConn{flavour: FlavourMySQL, serverSideDeadline: true}
	if got := on.limited(ctx, "SELECT 1 from dual"); !strings.HasPrefix(got, "SELECT /*+ MAX_EXECUTION_TIME(") {
		t.Fatalf("an upper-case SELECT: %q, want it limited", got)
	}
	for _, q := range []string{"selec", "sel", "with x as (select 1) select * from x", "insert into t select 1"} {
		if got := on.limited(ctx, q); got != q {
			t.Fatalf("%q: %q, want it unchanged", q, got)
		}
	}
	late, cancelLate := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelLate()
	if got := on.limited(late, siteQuery); !strings.HasPrefix(got, "select /*+ MAX_EXECUTION_TIME(1) */") {
		t.Fatalf("a read already past its deadline: %q, want a limit of 1 ms", got)
	}
	unknown := &readConn{flavour: FlavourUnknown, serverSideDeadline: true, db: openFake(t, &fakeServer{})}
	if got := unknown.limited(ctx, siteQuery); got != siteQuery {
		t.Fatalf("a server of unknown flavour: %q, want the query unchanged", got)
	}
	for f, name := range map[Flavour]string{FlavourMySQL: "mysql", FlavourMariaDB: "mariadb", FlavourUnknown: "unknown"} {
		if f.String() != name {
			t.Fatalf("Flavour(%d) is %q, want %q", f, f.String(), name)
		}
	}
}

// failing is a server whose reads fail with err (while the rows are
// read, with rowsErr).
func failing(err, rowsErr error) *fakeServer {
	return &fakeServer{query: func(context.Context, string, []driver.NamedValue) (*fakeRows, error) {
		if err != nil {
			return nil, err
		}
		return &fakeRows{columns: []string{"id", "name", "joined_at", "note"}, err: rowsErr}, nil
	}}
}

// shed counts, of n reads into dst, those the breaker refused.
func shed(t *testing.T, srv *fakeServer, n int, many bool) int {
	t.Helper()
	db := openFake(t, srv)
	c := newReadConn(sqlx.NewSqlConnFromDB(db), db, false)
	refused := 0
	for range n {
		var err error
		if many {
			err = c.QueryRowsCtx(context.Background(), &[]site{}, siteQuery, 1)
		} else {
			err = c.QueryRowCtx(context.Background(), &site{}, siteQuery, 1)
		}
		if errors.Is(err, breaker.ErrServiceUnavailable) {
			refused++
		}
	}
	return refused
}

// TestQuery_OnlyAStrugglingServerOpensTheBreaker: reads failing the way a
// struggling server fails (lock waits, statement timeouts, a deadline in
// the middle of the rows) open the read path's breaker; answers about the
// statement (no row, a value that does not fit, a missing table) and the
// client's own cancellation never do.
func TestQuery_OnlyAStrugglingServerOpensTheBreaker(t *testing.T) {
	for name, srv := range map[string]*fakeServer{
		"lockWaitTimeout":  failing(&mysql.MySQLError{Number: 1205}, nil),
		"statementTimeout": failing(&mysql.MySQLError{Number: 3024}, nil),
		"deadlineInRows":   failing(nil, context.DeadlineExceeded),
	} {
		if n := shed(t, srv, 300, name == "deadlineInRows"); n == 0 {
			t.Errorf("%s: 300 failed reads and the breaker never opened", name)
		}
	}
	misfit := serving(result([]string{"id", "name", "joined_at", "note"}, []driver.Value{"x", "a", joined, nil}))
	for name, tc := range map[string]struct {
		srv  *fakeServer
		many bool
	}{
		"noRow":        {serving(result([]string{"id", "name", "joined_at", "note"})), false},
		"misfitRow":    {misfit, false},
		"misfitRows":   {misfit, true},
		"missingTable": {failing(&mysql.MySQLError{Number: 1146}, nil), false},
		"canceled":     {failing(context.Canceled, nil), true},
	} {
		if n := shed(t, tc.srv, 300, tc.many); n != 0 {
			t.Errorf("%s: the breaker refused %d of 300 reads, want none", name, n)
		}
	}
}

// TestQuery_EachReadIsASQLClientSpan: as go-zero's own reads are traced,
// with the outcome as the span's status ("no row" is an outcome, not an
// error).
func TestQuery_EachReadIsASQLClientSpan(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(context.Background()) })
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name   string
		srv    *fakeServer
		many   bool
		method string
		status codes.Code
	}{
		{"row", serving(result([]string{"id", "name", "joined_at", "note"}, []driver.Value{int64(1), "a", joined, nil})), false, "QueryRow", codes.Ok},
		{"noRow", serving(result([]string{"id", "name", "joined_at", "note"})), false, "QueryRow", codes.Ok},
		{"rows", serving(result([]string{"id", "name", "joined_at", "note"})), true, "QueryRows", codes.Ok},
		{"failed", failing(broken, nil), true, "QueryRows", codes.Error},
	} {
		exporter.Reset()
		db := openFake(t, tc.srv)
		c := newReadConn(sqlx.NewSqlConnFromDB(db), db, false)
		if tc.many {
			_ = c.QueryRowsCtx(context.Background(), &[]site{}, siteQuery, 1)
		} else {
			_ = c.QueryRowCtx(context.Background(), &site{}, siteQuery, 1)
		}
		spans := exporter.GetSpans()
		if len(spans) != 1 || spans[0].Name != "sql" || spans[0].Status.Code != tc.status {
			t.Fatalf("%s: spans %+v, want one \"sql\" span with status %v", tc.name, spans, tc.status)
		}
		var method string
		for _, a := range spans[0].Attributes {
			if a.Key == "sql.method" {
				method = a.Value.AsString()
			}
		}
		if method != tc.method {
			t.Fatalf("%s: sql.method %q, want %q", tc.name, method, tc.method)
		}
		if tc.status == codes.Error && (spans[0].Status.Description != broken.Error() || len(spans[0].Events) == 0) {
			t.Fatalf("%s: status %+v, events %d: want the error recorded", tc.name, spans[0].Status, len(spans[0].Events))
		}
	}
}
