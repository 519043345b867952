package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// A database/sql driver whose server is a Go function: the store's own
// code (the read path's scan, breaker, deadlines and flavour detection, a
// replica's ping) runs on a real *sql.DB without a database server.

// fakeServer answers one pool's statements.
type fakeServer struct {
	// query answers a query (nil: every query fails).
	query func(ctx context.Context, q string, args []driver.NamedValue) (*fakeRows, error)
	// exec answers a statement (nil: succeeds).
	exec func(ctx context.Context, q string, args []driver.NamedValue) error
	// ping answers a ping (nil: succeeds).
	ping func(ctx context.Context) error

	mu      sync.Mutex
	queries []string
}

// seen are the queries the server was sent, in order.
func (s *fakeServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// fakeRows is a result: columns, rows, and the error that ends it (nil:
// the rows end normally).
type fakeRows struct {
	columns []string
	rows    [][]driver.Value
	err     error
	next    int
}

func result(columns []string, rows ...[]driver.Value) *fakeRows {
	return &fakeRows{columns: columns, rows: rows}
}

var (
	fakeServers sync.Map // DSN -> *fakeServer
	fakeSeq     atomic.Int64
)

func init() { sql.Register("storefake", fakeDriver{}) }

// openFake is a pool over s, closed when t ends.
func openFake(t testing.TB, s *fakeServer) *sql.DB {
	t.Helper()
	name := "fake-" + strconv.FormatInt(fakeSeq.Add(1), 10)
	fakeServers.Store(name, s)
	db, err := sql.Open("storefake", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(); fakeServers.Delete(name) })
	return db
}

type fakeDriver struct{}

func (fakeDriver) Open(name string) (driver.Conn, error) {
	s, ok := fakeServers.Load(name)
	if !ok {
		return nil, errors.New("storefake: no server " + name)
	}
	return &fakeConn{s: s.(*fakeServer)}, nil
}

type fakeConn struct{ s *fakeServer }

var errNoPrepare = errors.New("storefake: statements are not prepared")

func (c *fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errNoPrepare }
func (c *fakeConn) Close() error                        { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("storefake: no transactions") }

func (c *fakeConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.s.mu.Lock()
	c.s.queries = append(c.s.queries, q)
	query := c.s.query
	c.s.mu.Unlock()
	if query == nil {
		return nil, errors.New("storefake: no query answers")
	}
	r, err := query(ctx, q, args)
	if err != nil {
		return nil, err
	}
	copied := *r
	return &copied, nil
}

func (c *fakeConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.s.mu.Lock()
	c.s.queries = append(c.s.queries, q)
	exec := c.s.exec
	c.s.mu.Unlock()
	if exec != nil {
		if err := exec(ctx, q, args); err != nil {
			return nil, err
		}
	}
	return driver.RowsAffected(1), nil
}

func (c *fakeConn) Ping(ctx context.Context) error {
	if c.s.ping != nil {
		return c.s.ping(ctx)
	}
	return nil
}

// CheckNamedValue accepts every argument as it is.
func (c *fakeConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (r *fakeRows) Columns() []string { return r.columns }
func (r *fakeRows) Close() error      { return nil }

func (r *fakeRows) Next(dest []driver.Value) error {
	if r.next >= len(r.rows) {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	copy(dest, r.rows[r.next])
	r.next++
	return nil
}
