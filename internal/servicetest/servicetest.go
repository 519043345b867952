// Package servicetest runs the real service — server.New over a real (or
// fake) set of models, through go-zero's router, middlewares and the error
// table — on a loopback port, for tests, the soak and the benchmark. Its
// configuration is etc/project-api.yaml's, loaded the same way, so what is
// tested is what is deployed.
package servicetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// Options change the configuration from the deployed defaults.
type Options struct {
	// Timeout is the request deadline (Timeout); default 3 s.
	Timeout time.Duration
	// MaxOpenConns, when set, is both Mysql.MaxOpenConns and MaxIdleConns.
	MaxOpenConns int
	// ServerSideDeadlineOff disables Mysql.ServerSideDeadline.
	ServerSideDeadlineOff bool
	// CoalesceOff disables Coalesce.
	CoalesceOff bool
	// NoShedding turns go-zero's CPU-based load shedding off: it reacts to the
	// whole machine's CPU, which on a shared test box says nothing about the
	// service.
	NoShedding bool
}

// Config is the service's configuration as etc/project-api.yaml sets it
// (route breaker off, database breaker on), quiet logs, for dsn and o.
func Config(dsn string, o Options) (config.Config, error) {
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	yaml := fmt.Sprintf("Name: project-test\nHost: 127.0.0.1\nPort: 1\nTimeout: %d\n"+
		"Middlewares:\n  Breaker: false\nLog:\n  Mode: console\n  Level: severe\n  Stat: false\n"+
		"Coalesce: %v\nMysql:\n  DataSource: %q\n  ServerSideDeadline: %v\n",
		o.Timeout.Milliseconds(), !o.CoalesceOff, dsn, !o.ServerSideDeadlineOff)
	if o.MaxOpenConns > 0 {
		yaml += fmt.Sprintf("  MaxOpenConns: %d\n  MaxIdleConns: %d\n", o.MaxOpenConns, o.MaxOpenConns)
	}
	if o.NoShedding {
		yaml += "CpuThreshold: 0\n"
	}
	var c config.Config
	if err := conf.LoadFromYamlBytes([]byte(yaml), &c); err != nil {
		return c, err
	}
	return c, c.SetUp()
}

// Service is a running instance.
type Service struct {
	URL string
	Svc *svc.ServiceContext
}

// Start runs the service over a real pool to dsn; it stops in t.Cleanup.
func Start(t testing.TB, dsn string, o Options) *Service {
	t.Helper()
	c, err := Config(dsn, o)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s, err := svc.NewServiceContext(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return Serve(t, s)
}

// Serve runs the service over an already built ServiceContext (e.g. over
// fake models); it stops in t.Cleanup.
func Serve(t testing.TB, s *svc.ServiceContext) *Service {
	t.Helper()
	srv, err := server.New(s)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		t.Fatalf("serverless: %v", err)
	}
	ts := httptest.NewServer(http.HandlerFunc(sl.Serve))
	t.Cleanup(ts.Close)
	return &Service{URL: ts.URL, Svc: s}
}

// Response is what a client saw.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Get fetches url and reads the whole answer.
func Get(t testing.TB, url string) Response {
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
	return Response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// Leaks are texts that must never reach a client: SQL, driver, Go runtime
// and parser vocabulary.
var Leaks = []string{"strconv", "sql", "SQL", "mysql", "dial tcp", "Error 1", "goroutine", "panic", ".go:", "runtime error"}

// ErrorBody decodes an error body strictly — exactly {code, message}, a
// non-empty message — and fails t if it carries any of Leaks.
func ErrorBody(t testing.TB, body string) (code, message string) {
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
	for _, leak := range Leaks {
		if strings.Contains(body, leak) {
			t.Errorf("error body %q leaks %q", body, leak)
		}
	}
	return e.Code, e.Message
}

// Eventually polls cond every 10 ms until it holds (true) or within passes (false).
func Eventually(within time.Duration, cond func() bool) bool {
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
