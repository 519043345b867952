// Package servicetest runs the real service — svc.NewServiceContext and
// server.New, go-zero's router, middlewares and the error table — on a
// loopback port, for tests and the soak. Its configuration is the shipped
// etc/project-api.yaml, loaded the way the service loads it, with a test's
// overrides merged over it: what is tested is what is deployed.
package servicetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/rest"
	"gopkg.in/yaml.v3"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// testSettings make the shipped configuration fit a test process: nothing
// listens beyond loopback, no DevServer, logs only for severe events, and
// authentication off — tests of access control turn it on with an issuer
// (Issuer below), the others test other things.
const testSettings = `
Host: 127.0.0.1
Log: {Mode: console, Level: severe, Stat: false}
DevServer: {Enabled: false}
Auth: {Disabled: true}
`

// NoDatabase is a DSN no test reaches, for services over fake models.
const NoDatabase = "u:p@tcp(127.0.0.1:1)/db"

// YAML is the shipped etc/project-api.yaml with the test settings, the DSN
// (unless empty) and then each override (YAML, deep-merged in order: a map
// merges key by key, anything else replaces) merged over it.
func YAML(t testing.TB, dsn string, overrides ...string) []byte {
	t.Helper()
	shipped, err := os.ReadFile(testenv.Path("etc/project-api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	layers := []string{string(shipped), testSettings}
	if dsn != "" {
		b, _ := yaml.Marshal(map[string]any{"Mysql": map[string]any{"DataSource": dsn}})
		layers = append(layers, string(b))
	}
	out, err := config.MergeYAML(append(layers, overrides...)...)
	if err != nil {
		t.Fatalf("servicetest: %v", err)
	}
	return out
}

// Timeout is the override setting the request deadline (Timeout, in ms).
func Timeout(d time.Duration) string {
	return "Timeout: " + strconv.FormatInt(d.Milliseconds(), 10)
}

// Issuer is the override turning authentication on with the OpenID
// Provider at issuerURL (e.g. an oidctest.Issuer's URL).
func Issuer(issuerURL string) string {
	return fmt.Sprintf("Auth: {Disabled: false, Issuer: %q}", issuerURL)
}

// Config is YAML loaded and validated as config.Load does (the service's
// defaults under it), with logging set up (go-zero's SetUp: logging,
// tracing; the DevServer is off).
func Config(t testing.TB, dsn string, overrides ...string) config.Config {
	t.Helper()
	c, err := config.LoadBytes(YAML(t, dsn, overrides...))
	if err != nil {
		t.Fatalf("servicetest: config: %v", err)
	}
	if err := c.SetUp(); err != nil {
		t.Fatalf("servicetest: set up: %v", err)
	}
	return c
}

// File writes YAML to a file in t's temporary directory, for the real
// binary (project -f FILE), and returns its path.
func File(t testing.TB, dsn string, overrides ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "project-api.yaml")
	if err := os.WriteFile(path, YAML(t, dsn, overrides...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Service is a running instance.
type Service struct {
	URL string
	Svc *svc.ServiceContext
}

// Start builds the service from c as project.go does (svc.NewServiceContext
// with opts, e.g. fakes, then server.New) and serves it on a loopback port
// until t ends, when the server stops and the pool closes.
func Start(t testing.TB, c config.Config, opts ...store.Option) *Service {
	t.Helper()
	s, err := svc.NewServiceContext(c, opts...)
	if err != nil {
		t.Fatalf("servicetest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &Service{URL: Serve(t, s).URL, Svc: s}
}

// Serve serves s with server.New on a loopback port until t ends.
func Serve(t testing.TB, s *svc.ServiceContext) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(Handler(t, s))
	t.Cleanup(ts.Close)
	return ts
}

// Handler is the service's whole HTTP stack over s (server.New, go-zero's
// router and middlewares), to call in-process (fuzzers, benchmarks).
func Handler(t testing.TB, s *svc.ServiceContext) http.HandlerFunc {
	t.Helper()
	srv, err := server.New(s)
	if err != nil {
		t.Fatalf("servicetest: server.New: %v", err)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		t.Fatalf("servicetest: serverless: %v", err)
	}
	return sl.Serve
}
