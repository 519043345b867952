package integration

import (
	"database/sql"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/dbtest"
	"github.com/clinicaldata/projectsvc/internal/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/servicetest"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(dbtest.Main(m)))
}

// service is one instance of the service under test.
type service = servicetest.Service

// response is what a client saw.
type response = servicetest.Response

// options of a service under test.
type options struct {
	timeout time.Duration
	// through, when set, routes the pool through this fault proxy.
	through *faultproxy.Proxy
	maxOpen int
	// serverSideOff disables Mysql.ServerSideDeadline.
	serverSideOff bool
}

// startService runs the real server (server.New over a real pool) on a
// loopback port against the database dsn, and stops it in t.Cleanup.
func startService(t testing.TB, dsn string, o options) *service {
	t.Helper()
	if o.through != nil {
		dsn = proxiedDSN(t, dsn, o.through.Addr())
	}
	return servicetest.Start(t, dsn, servicetest.Options{
		Timeout: o.timeout, MaxOpenConns: o.maxOpen, ServerSideDeadlineOff: o.serverSideOff,
	})
}

func get(t testing.TB, url string) response {
	t.Helper()
	return servicetest.Get(t, url)
}

// proxiedDSN is dsn with its address replaced by the proxy's.
func proxiedDSN(t testing.TB, dsn, addr string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	return cfg.FormatDSN()
}

// errorCode decodes an error body strictly ({code, message}, nothing else)
// and checks that no SQL or driver text leaked into it.
func errorCode(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Message == "" {
		t.Fatalf("error body %q is not {code, message}: %v", body, err)
	}
	for _, leak := range []string{"sql", "SQL", "mysql", "dial tcp", "Error 1", "goroutine", ".go:"} {
		if strings.Contains(body, leak) {
			t.Errorf("error body %q leaks %q", body, leak)
		}
	}
	return e.Code
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openRoot opens a root connection for test setup, closed in t.Cleanup.
func openRoot(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
