package integration

import (
	"os"
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

// errorCode is the code of a strict, leak-free error body.
func errorCode(t testing.TB, body string) string {
	t.Helper()
	code, _ := servicetest.ErrorBody(t, body)
	return code
}

var (
	eventually = servicetest.Eventually
	openRoot   = dbtest.Open
)
