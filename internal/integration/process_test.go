package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gopkg.in/yaml.v3"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the service once per test binary, as `make build` does.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "projectsvc-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "project")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/clinicaldata/projectsvc").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is the service running as a real OS process.
type process struct {
	cmd     *exec.Cmd
	URL     string
	DevURL  string
	mu      sync.Mutex
	logs    bytes.Buffer
	exited  chan struct{}
	exitErr error
}

// Logs is everything the process wrote so far (stdout and stderr).
func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type lockedWriter struct{ p *process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.logs.Write(b)
}

// startProcess runs the built service with the shipped configuration as
// deployed — JSON logs at info, the DevServer with metrics — on loopback,
// the overrides merged over it and the DSN given by MYSQL_DSN, and waits
// until /healthz and (when the DevServer is on) /metrics answer.
//
// The service listens on Port: 0 and the test reads the port the system
// chose back from its "listening on" line: nothing can take it in between.
// go-zero's DevServer cannot be asked its port, so it gets a found one; if
// something took that port before the process bound it (the DevServer logs
// the bind error and never answers), the whole start is retried on another.
func startProcess(t *testing.T, dsn string, overrides ...string) *process {
	t.Helper()
	return startProcessOn(t, testenv.FreePort, dsn, overrides...)
}

// startProcessOn is startProcess with the DevServer's port taken from
// devPort, once per attempt.
func startProcessOn(t *testing.T, devPort func() int, dsn string, overrides ...string) *process {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p, err := tryStartProcess(t, devPort(), dsn, overrides...)
		if err == nil {
			return p
		}
		var taken *devPortTakenError
		if !errors.As(err, &taken) {
			t.Fatal(err)
		}
		if attempt == attempts {
			t.Fatalf("%d starts: %v; logs:\n%s", attempts, err, taken.logs)
		}
		t.Logf("start %d of %d: %v; retrying on another port", attempt, attempts, err)
	}
}

// devPortTakenError is a start whose DevServer could not bind its port.
type devPortTakenError struct {
	port int
	logs string
}

func (e *devPortTakenError) Error() string {
	return fmt.Sprintf("the DevServer could not listen on 127.0.0.1:%d (the bind error is in the service's log)", e.port)
}

// tryStartProcess is one attempt of startProcess: on an error the process
// has been stopped.
func tryStartProcess(t *testing.T, devPort int, dsn string, overrides ...string) (*process, error) {
	t.Helper()
	file := servicetest.File(t, "", append([]string{
		"Port: 0",
		"Log: {Mode: console, Encoding: json, Level: info}",
		fmt.Sprintf("DevServer: {Enabled: true, Host: 127.0.0.1, Port: %d}", devPort),
	}, overrides...)...)
	devServer, err := devServerEnabled(file)
	if err != nil {
		return nil, err
	}
	p := &process{
		DevURL: fmt.Sprintf("http://127.0.0.1:%d", devPort),
		exited: make(chan struct{}),
	}
	p.cmd = exec.Command(binary(t), "-f", file)
	p.cmd.Env = append(os.Environ(), "MYSQL_DSN="+dsn)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.exitErr = p.cmd.Wait(); close(p.exited) }()
	stop := func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	fail := func(format string, args ...any) (*process, error) {
		stop()
		return nil, fmt.Errorf("%s (exit: %v); logs:\n%s", fmt.Sprintf(format, args...), p.exitErr, p.Logs())
	}
	exited := func() bool {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}

	// The address the service listens on, from its log.
	var addr string
	if !servicetest.Eventually(15*time.Second, func() bool {
		addr = testenv.ListenAddr(p.Logs())
		return addr != "" || exited()
	}) || addr == "" {
		return fail("the service did not log the address it listens on")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fail("listening on %q: %v", addr, err)
	}
	p.URL = "http://127.0.0.1:" + port
	if !servicetest.Eventually(15*time.Second, func() bool {
		if exited() {
			return true
		}
		res, err := probeClient.Get(p.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}) || exited() {
		return fail("the service did not become live on %s", addr)
	}
	if devServer {
		// Either the DevServer answers with metrics, or it logged why not.
		bindFailed := fmt.Sprintf("127.0.0.1:%d: bind: ", devPort)
		metrics := false
		if !servicetest.Eventually(15*time.Second, func() bool {
			if strings.Contains(p.Logs(), bindFailed) || exited() {
				return true
			}
			// Bounded: whatever holds a taken port may never answer.
			res, err := probeClient.Get(p.DevURL + "/metrics")
			if err != nil {
				return false
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			metrics = res.StatusCode == http.StatusOK && bytes.Contains(b, []byte("# TYPE "))
			return metrics
		}) || !metrics {
			if strings.Contains(p.Logs(), bindFailed) {
				logs := p.Logs()
				stop()
				return nil, &devPortTakenError{port: devPort, logs: logs}
			}
			return fail("the DevServer did not answer /metrics on 127.0.0.1:%d", devPort)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("service logs:\n%s", p.Logs())
		}
	})
	return p, nil
}

// probeClient is startProcess's client for /healthz and /metrics.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// devServerEnabled tells whether the config file turns the DevServer on.
func devServerEnabled(file string) (bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return false, err
	}
	var c struct {
		DevServer struct {
			Enabled bool `yaml:"Enabled"`
		} `yaml:"DevServer"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	return c.DevServer.Enabled, nil
}

// logIndex is the number of the first log line holding needle (-1: none).
func logIndex(logs, needle string) int {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		if strings.Contains(sc.Text(), needle) {
			return i
		}
	}
	return -1
}

// TestProcess_SIGTERMDrainsInFlightThenClosesPool: SIGTERM while a slow
// request is in flight. Readiness turns 503 first, the request still gets
// its 200, the process exits 0, and the pool is closed only after the HTTP
// server drained.
func TestProcess_SIGTERMDrainsInFlightThenClosesPool(t *testing.T) {
	t.Parallel()
	const readLatency = 1500 * time.Millisecond
	p := proxied(t)
	proc := startProcess(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))),
		"Timeout: 10000\nShutdown:\n  WrapUpTime: 500ms\n  WaitTime: 15s\n")
	if res := servicetest.Get(t, proc.URL+"/project/1"); res.Status != http.StatusOK {
		t.Fatalf("warm-up: %d %s", res.Status, res.Body)
	}
	if err := p.Latency(readLatency); err != nil {
		t.Fatal(err)
	}
	inflight := make(chan servicetest.Answer, 1)
	go func() {
		res, err := http.Get(proc.URL + "/project/1")
		if err != nil {
			inflight <- servicetest.Answer{Status: -1, Body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		inflight <- servicetest.Answer{Status: res.StatusCode, Body: string(b)}
	}()
	time.Sleep(300 * time.Millisecond) // the request is now waiting on the database
	signaled := time.Now()
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// During wrap-up, readiness already says 503 while the server still serves.
	if !servicetest.Eventually(400*time.Millisecond, func() bool {
		res, err := http.Get(proc.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	}) {
		t.Error("readiness did not turn 503 after SIGTERM")
	}
	res := <-inflight
	if res.Status != http.StatusOK {
		t.Fatalf("in-flight request: %d %s, want 200", res.Status, res.Body)
	}
	select {
	case <-proc.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit within its shutdown wait")
	}
	if proc.exitErr != nil {
		t.Fatalf("exit: %v, want status 0", proc.exitErr)
	}
	t.Logf("exited %s after SIGTERM", time.Since(signaled))
	// After the drain, new connections are refused (no 5xx from a half-closed pool).
	if res, err := http.Get(proc.URL + "/project/1"); err == nil {
		res.Body.Close()
		t.Fatalf("after exit a request got %d, want connection refused", res.StatusCode)
	}
	logs := proc.Logs()
	access := strings.LastIndex(logs, "GET /project/1")
	drained := strings.Index(logs, "http server drained; closing the database pool")
	closed := strings.Index(logs, "database pool closed")
	if access < 0 || drained < 0 || closed < 0 || !(access < drained && drained < closed) {
		t.Fatalf("want access log < drained < pool closed, got %d, %d, %d", access, drained, closed)
	}
}

// TestProcess_NoSecretsOrArgumentsInLogs: the DSN's password and the
// queries' arguments never reach the logs, even when the database fails.
func TestProcess_NoSecretsOrArgumentsInLogs(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t, "sql/seed.sql") // as root
	const password = "S3cret-Pw-4f9e2"
	root, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := root.DBName
	conn := dbtest.Open(t, dsn)
	user := "u" + strings.TrimPrefix(db, "dbtest_") // unique per test database
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password),
		fmt.Sprintf("GRANT SELECT ON `%s`.* TO '%s'@'%%'", db, user),
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	p := proxied(t)
	cfg := *root
	cfg.User, cfg.Passwd, cfg.Addr, cfg.MultiStatements = user, password, p.Addr(), false
	proc := startProcess(t, cfg.FormatDSN(), "Timeout: 1000\n")
	const marker = "424242"
	for _, path := range []string{"/project/1", "/project/" + marker, "/readyz"} {
		servicetest.Get(t, proc.URL+path)
	}
	p.Cut() // database gone: error paths log too
	for _, path := range []string{"/project/" + marker, "/readyz"} {
		if res := servicetest.Get(t, proc.URL+path); res.Status != http.StatusServiceUnavailable {
			t.Errorf("%s with the database gone: %d, want 503", path, res.Status)
		}
	}
	logs := proc.Logs()
	if strings.Contains(logs, password) {
		t.Fatal("the DSN password appears in the logs")
	}
	if strings.Contains(logs, "select ") || strings.Contains(logs, "SELECT ") {
		t.Fatal("an SQL statement appears in the logs")
	}
	if logIndex(logs, "GET /project/"+marker) < 0 {
		t.Fatal("no access log line for the request")
	}
	// The project id asked for is an argument of the reads: it is in the
	// access lines (the URI), in no other line — not even a failed read's.
	if n := onlyInAccessLines(t, logLines(logs), marker, "the project id asked for"); n < 2 {
		t.Fatalf("%d access lines name the marker, want one per request", n)
	}
}

// TestProcess_MetricsExposePoolGaugesThatMove: the DevServer's /metrics has
// the pool's DBStats and the fan-out's read histogram, and they move under load.
func TestProcess_MetricsExposePoolGaugesThatMove(t *testing.T) {
	t.Parallel()
	proc := startProcess(t, dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql")), "")
	metric := func(name string) float64 {
		res := servicetest.Get(t, proc.DevURL+"/metrics")
		for _, line := range strings.Split(res.Body, "\n") {
			if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
				var v float64
				fields := strings.Fields(line)
				fmt.Sscan(fields[len(fields)-1], &v)
				return v
			}
		}
		t.Fatalf("metric %s not exposed", name)
		return 0
	}
	before := metric(`go_sql_open_connections{db_name="project"}`)
	// 80 distinct requests (reports=1..80), so none is coalesced with another.
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 10 {
				servicetest.Get(t, fmt.Sprintf("%s/project/1?reports=%d", proc.URL, c*10+r+1))
			}
		}()
	}
	wg.Wait()
	after := metric(`go_sql_open_connections{db_name="project"}`)
	if after <= before {
		t.Fatalf("go_sql_open_connections %v -> %v under load, want it to grow", before, after)
	}
	if n := metric(`project_read_duration_seconds_count{read="project"}`); n < 80 {
		t.Fatalf(`project_read_duration_seconds_count{read="project"} = %v after 80 requests`, n)
	}
	for _, name := range []string{"go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total",
		"go_sql_wait_duration_seconds_total", "go_sql_max_lifetime_closed_total", "http_server_requests_duration_ms_count"} {
		metric(name)
	}
}

// TestProcess_ReadinessFollowsTheDatabase: /readyz is 503 while the database
// is unreachable and 200 again once it is back, without a restart; /healthz
// stays 200 throughout.
func TestProcess_ReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	p := proxied(t)
	proc := startProcess(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), "")
	status := func(path string) int { return servicetest.Get(t, proc.URL+path).Status }
	if s := status("/readyz"); s != http.StatusOK {
		t.Fatalf("readyz with the database up: %d", s)
	}
	p.Cut()
	if !servicetest.Eventually(5*time.Second, func() bool { return status("/readyz") == http.StatusServiceUnavailable }) {
		t.Fatal("readyz did not turn 503 with the database gone")
	}
	if s := status("/healthz"); s != http.StatusOK {
		t.Fatalf("healthz with the database gone: %d, want 200 (the process is alive)", s)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if !servicetest.Eventually(5*time.Second, func() bool { return status("/readyz") == http.StatusOK }) {
		t.Fatal("readyz did not return to 200 with the database back")
	}
}

// TestProcess_BadConfigFailsWithOneLine: invalid values stop the process at
// start with one line naming the key, never a panic trace.
func TestProcess_BadConfigFailsWithOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, env, mentions string }{
		{"negativePool", "Mysql:\n  MaxOpenConns: -1\n", "", "Mysql.MaxOpenConns"},
		{"idleAboveOpen", "Mysql:\n  MaxOpenConns: 4\n  MaxIdleConns: 8\n", "", "Mysql.MaxIdleConns"},
		{"badDuration", "Mysql:\n  ConnMaxLifetime: soon\n", "", "Mysql.ConnMaxLifetime"},
		{"badDurationEnv", "", "MYSQL_CONN_MAX_IDLE_TIME=later", "MYSQL_CONN_MAX_IDLE_TIME"},
		{"emptyDSN", "Mysql: {DataSource: ''}", "MYSQL_DSN=", "Mysql.DataSource"},
		{"noIssuer", "Auth: {Disabled: false, Issuer: ''}", "AUTH_ISSUER=", "Auth.Issuer"},
		{"plainHTTPIssuer", "Auth: {Disabled: false}", "AUTH_ISSUER=http://idp.example.com/realms/x", "AUTH_ISSUER"},
		{"badDSN", "", "MYSQL_DSN=root:Pw-Hidden@tcp(127.0.0.1", "Mysql.DataSource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A service that starts after all is killed rather than left
			// to hang the suite.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary(t), "-f", servicetest.File(t, "", tc.yaml))
			cmd.Env = append(os.Environ(), "MYSQL_DSN=u:p@tcp(127.0.0.1:1)/db")
			if tc.env != "" {
				cmd.Env = append(cmd.Env, tc.env)
			}
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("started with a bad config; output %s", out)
			}
			text := strings.TrimSpace(string(out))
			if strings.Count(text, "\n") != 0 || !strings.Contains(text, tc.mentions) {
				t.Fatalf("want one line naming %s, got:\n%s", tc.mentions, text)
			}
			if strings.Contains(text, "Pw-Hidden") || strings.Contains(text, "goroutine") {
				t.Fatalf("the error leaks a password or a trace: %s", text)
			}
		})
	}
}

// TestProcess_SIGTERMUnderLoad: clients keep requesting while the process
// gets SIGTERM, and stop starting new requests once readiness says 503 — as
// a load balancer or Kubernetes does (that is what Shutdown.WrapUpTime is
// for). Every request started completes with 200: none is cut, none gets a
// 5xx. (A client that ignores readiness can still race the listener's close:
// a connection the kernel accepted but the process never did is reset. No
// server can answer those; readiness is how they are avoided.)
func TestProcess_SIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	p := proxied(t)
	proc := startProcess(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))),
		"Timeout: 5000\nShutdown:\n  WrapUpTime: 300ms\n  WaitTime: 10s\n")
	if err := p.Latency(50 * time.Millisecond); err != nil { // requests overlap the signal
		t.Fatal(err)
	}
	const clients = 8
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		refused  int
		broken   []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One connection per request: a request is either accepted and
			// answered, or refused at connect — no keep-alive ambiguity.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := client.Get(proc.URL + "/project/1")
				mu.Lock()
				switch {
				case err == nil:
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses[res.StatusCode]++
				case strings.Contains(err.Error(), "connection refused"):
					refused++
				default:
					broken = append(broken, err.Error())
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signaled := time.Now()
	if !servicetest.Eventually(5*time.Second, func() bool {
		res, err := http.Get(proc.URL + "/readyz")
		if err != nil {
			return true
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	}) {
		t.Error("readiness never turned 503")
	}
	close(stop) // the "load balancer" takes the instance out of rotation
	t.Logf("readiness turned 503 %s after SIGTERM", time.Since(signaled).Round(time.Millisecond))
	select {
	case <-proc.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within the shutdown wait")
	}
	wg.Wait()
	t.Logf("under load through SIGTERM: statuses %v, refused %d, broken %d", statuses, refused, len(broken))
	if proc.exitErr != nil {
		t.Fatalf("exit: %v", proc.exitErr)
	}
	for status, n := range statuses {
		if status != http.StatusOK {
			t.Errorf("%d responses with status %d, want only 200", n, status)
		}
	}
	if len(broken) > 0 {
		t.Errorf("%d accepted requests broke instead of completing, e.g. %s", len(broken), broken[0])
	}
	if statuses[http.StatusOK] < clients {
		t.Fatalf("the load did not span the shutdown (200s %d)", statuses[http.StatusOK])
	}
	if res, err := http.Get(proc.URL + "/project/1"); err == nil {
		res.Body.Close()
		t.Fatalf("after the drain a request got %d, want connection refused", res.StatusCode)
	}
}

// TestProcess_PortInUseFailsWithOneLine: a taken port stops the service at
// start with one line naming the address (go-zero panics there; the service
// turns that into an error).
func TestProcess_PortInUseFailsWithOneLine(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "-f", servicetest.File(t, servicetest.NoDatabase, fmt.Sprintf("Port: %d", port)))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started on a taken port; output %s", out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.Contains(l, `"level":"alert"`) { // the Auth.Disabled warning of the test settings
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("127.0.0.1:%d", port)) || strings.Contains(lines[0], "goroutine") {
		t.Fatalf("want one line naming 127.0.0.1:%d, got:\n%s", port, out)
	}
}

// TestProcess_StartRetriesWhenTheDevServerPortIsTaken: the DevServer's port
// is found, not handed over, so something can take it before the process
// binds it; startProcess then starts the process again on another port
// (the service's own port is Port: 0, read back from its log).
func TestProcess_StartRetriesWhenTheDevServerPortIsTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	var ports []int
	proc := startProcessOn(t, func() int {
		port := takenPort // the first attempt's port is already taken
		if len(ports) > 0 {
			port = testenv.FreePort()
		}
		ports = append(ports, port)
		return port
	}, dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql")))
	if len(ports) != 2 {
		t.Fatalf("%d starts (DevServer ports %v), want 2: one on the taken port, one retry", len(ports), ports)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d", ports[1]); proc.DevURL != want {
		t.Fatalf("DevURL %s, want %s", proc.DevURL, want)
	}
	if res := servicetest.Get(t, proc.DevURL+"/metrics"); res.Status != http.StatusOK {
		t.Fatalf("/metrics: %d", res.Status)
	}
	if res := servicetest.Get(t, proc.URL+"/project/1"); res.Status != http.StatusOK {
		t.Fatalf("/project/1: %d %s", res.Status, res.Body)
	}
	// The service listens where its log says, not on the configured port 0.
	addr := testenv.ListenAddr(proc.Logs())
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" || proc.URL != "http://127.0.0.1:"+port {
		t.Fatalf("URL %s, logged address %q: want the logged, system-chosen port", proc.URL, addr)
	}
}
