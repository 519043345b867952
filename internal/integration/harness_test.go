package integration

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/dbtest"
	"github.com/clinicaldata/projectsvc/internal/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(dbtest.Main(m)))
}

// service is one instance of the service under test.
type service struct {
	URL string
	Svc *svc.ServiceContext
}

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
	if o.timeout == 0 {
		o.timeout = 3 * time.Second
	}
	if o.maxOpen == 0 {
		o.maxOpen = 32
	}
	if o.through != nil {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = o.through.Addr()
		dsn = cfg.FormatDSN()
	}
	var c config.Config
	// As etc/project-api.yaml: the route breaker off, the database breaker on.
	yaml := fmt.Sprintf("Name: project-it\nHost: 127.0.0.1\nPort: 1\nTimeout: %d\nMiddlewares:\n  Breaker: false\n"+
		"Log:\n  Mode: console\n  Level: severe\nMysql:\n  DataSource: %q\n  MaxOpenConns: %d\n  MaxIdleConns: %d\n  ServerSideDeadline: %v\n",
		o.timeout.Milliseconds(), dsn, o.maxOpen, o.maxOpen, !o.serverSideOff)
	if err := conf.LoadFromYamlBytes([]byte(yaml), &c); err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := c.SetUp(); err != nil {
		t.Fatal(err)
	}
	s, err := svc.NewServiceContext(c)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(s)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(sl.Serve))
	t.Cleanup(func() {
		ts.Close()
		_ = s.Close()
	})
	return &service{URL: ts.URL, Svc: s}
}

// response is what a client saw.
type response struct {
	Status int
	Header http.Header
	Body   string
}

func get(t testing.TB, url string) response {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
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
