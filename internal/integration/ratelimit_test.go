package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/redistest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// The rate limit on a real Redis (internal/testing/redistest), with the
// service as its own processes (the real binary), as an operator runs it.

var floodClient = oidctest.Client{ID: "runaway-etl", Secret: "etl-secret", Scopes: []string{auth.ScopeReadAll}}

// metricValue is the sum of a Prometheus metric's samples whose labels
// contain every one of labels (e.g. `where="shared"`), from /metrics.
func metricValue(t *testing.T, devURL, name string, labels ...string) float64 {
	t.Helper()
	res := servicetest.Get(t, devURL+"/metrics")
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// TestRateLimit_TwoProcessesShareOneQuota: two service processes on one
// Redis; one client alternating between them is admitted its quota once in
// all, not once per process, and the rest are 429 with the headers. Both
// reach Redis as a user with only the privileges docs/operating.md lists.
func TestRateLimit_TwoProcessesShareOneQuota(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, floodClient)
	dsn, _, _ := securedDatabase(t)
	r := redistest.Start(t)
	leastPrivilegeRedisUser(t, r.Addr())
	const quota = 30 // 30 per minute with bursts of 30: one 60 s window of 30
	overrides := []string{servicetest.Issuer(iss.URL),
		"Redis: {Addr: " + r.Addr() + ", User: " + redisUser + ", Pass: " + redisPass + "}",
		// A generous Timeout: this test is about sharing; on a loaded
		// machine a call past 50 ms would be decided locally (tested below).
		fmt.Sprintf("RateLimit: {Rate: %d, Window: 1m, Burst: %d, Instances: 2, Timeout: 2s}", quota, quota)}
	a, b := startProcess(t, dsn, overrides...), startProcess(t, dsn, overrides...)
	h := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, floodClient.ID, floodClient.Secret, auth.ScopeReadAll)}}
	admitted, refused := 0, 0
	for i := range 3 * quota {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		res := servicetest.Do(t, http.MethodGet, base+"/project/1", h)
		switch res.Status {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
			refused++
			if res.Header.Get("Retry-After") == "" || !strings.HasPrefix(res.Header.Get("RateLimit"), `"default";r=0;t=`) {
				t.Fatalf("a 429 without its headers: Retry-After %q RateLimit %q", res.Header.Get("Retry-After"), res.Header.Get("RateLimit"))
			}
		default:
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
		if res.Header.Get("RateLimit-Policy") != fmt.Sprintf(`"default";q=%d;w=60`, quota) {
			t.Fatalf("RateLimit-Policy %q", res.Header.Get("RateLimit-Policy"))
		}
	}
	// Every decision taken on Redis, and one window: exactly the quota in
	// all. (Limiting locally, each process admits its share, half the
	// quota: the same sum, so the decisions' metric tells the two apart.)
	for _, p := range []*process{a, b} {
		shared := metricValue(t, p.DevURL, "project_rate_decisions_total", `where="shared"`)
		local := metricValue(t, p.DevURL, "project_rate_decisions_total", `where="local"`)
		if shared != 3*quota/2 || local != 0 {
			t.Fatalf("a process decided %v requests on Redis and %v locally, want %d and 0", shared, local, 3*quota/2)
		}
	}
	if admitted != quota || refused != 2*quota {
		t.Fatalf("admitted %d, refused %d of %d requests through two processes: want the one shared quota of %d admitted",
			admitted, refused, 3*quota, quota)
	}
}

const redisUser, redisPass = "projectsvc", "rate-limit-demo"

// leastPrivilegeRedisUser creates the service's Redis user exactly as
// docs/operating.md writes it (its ACL line), and checks it can do nothing
// else: no other key, no administration.
func leastPrivilegeRedisUser(t *testing.T, addr string) {
	t.Helper()
	admin, err := redis.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	acl := []any{"SETUSER", redisUser}
	for _, rule := range strings.Fields(docsRedisACL(t)) {
		acl = append(acl, strings.ReplaceAll(rule, "<password>", redisPass))
	}
	if _, err := admin.Do("ACL", acl...); err != nil {
		t.Fatalf("the ACL line of docs/operating.md: %v", err)
	}
	svc, err := redis.Dial("tcp", addr, redis.DialUsername(redisUser), redis.DialPassword(redisPass))
	if err != nil {
		t.Fatalf("the service's Redis user cannot log in: %v", err)
	}
	defer svc.Close()
	for _, cmd := range [][]any{{"GET", "other:key"}, {"SET", "projectsvc:rate:x", "1"}, {"FLUSHALL"}, {"CONFIG", "GET", "*"}, {"KEYS", "*"}} {
		if _, err := svc.Do(cmd[0].(string), cmd[1:]...); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("the service's Redis user may %v (%v): more than it needs", cmd, err)
		}
	}
}

// docsRedisACL is the rules of the ACL SETUSER line in docs/operating.md.
func docsRedisACL(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(testenv.Path("docs/operating.md"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(doc)) {
		if _, rules, ok := strings.Cut(line, "ACL SETUSER projectsvc "); ok {
			return strings.TrimSpace(rules)
		}
	}
	t.Fatal("docs/operating.md has no ACL SETUSER projectsvc line")
	return ""
}

// TestRateLimit_RedisGoneUnderLoadNeverFailsARequest: a flooding client and
// a well-behaved one send requests while Redis is killed, restarted, then
// paused and unpaused. No answer is a 5xx and none stalls; the flooding
// client keeps being limited (locally while Redis is away), the other is
// never refused; the counters show the switch to local limiting and back.
func TestRateLimit_RedisGoneUnderLoadNeverFailsARequest(t *testing.T) {
	t.Parallel()
	polite := oidctest.Client{ID: "site-portal", Secret: "portal-secret", Scopes: []string{auth.ScopeReadAll}}
	iss := oidctest.Start(t, floodClient, polite)
	dsn, _, _ := securedDatabase(t)
	r := redistest.Start(t)
	p := startProcess(t, dsn, servicetest.Issuer(iss.URL), "Redis: {Addr: "+r.Addr()+"}",
		// 10 per 2 s: 5/s sustained. Timeout 200ms, not 50: on a loaded
		// 2-core machine a healthy Redis may take 50 ms, and this test needs
		// it to be shared before each fault.
		"RateLimit: {Rate: 300, Window: 1m, Burst: 10, Timeout: 200ms}")
	flood := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, floodClient.ID, floodClient.Secret, auth.ScopeReadAll)}}
	calm := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, polite.ID, polite.Secret, auth.ScopeReadAll)}}

	type tally struct {
		ok, limited, failed atomic.Int64
		slowest             atomic.Int64 // ns
		mu                  sync.Mutex
		why                 []string // the first failures, as the client saw them
	}
	var floodT, calmT tally
	stop := make(chan struct{})
	var load sync.WaitGroup
	send := func(h http.Header, into *tally, pause time.Duration) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/project/1", nil)
			req.Header = h.Clone()
			res, err := http.DefaultClient.Do(req)
			took := time.Since(start)
			for {
				old := into.slowest.Load()
				if int64(took) <= old || into.slowest.CompareAndSwap(old, int64(took)) {
					break
				}
			}
			fail := ""
			switch {
			case err != nil:
				fail = err.Error()
			case res.StatusCode == http.StatusOK:
				into.ok.Add(1)
			case res.StatusCode == http.StatusTooManyRequests:
				into.limited.Add(1)
			default:
				body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
				fail = fmt.Sprintf("%d %s", res.StatusCode, body)
			}
			if fail != "" {
				into.failed.Add(1)
				into.mu.Lock()
				if len(into.why) < 5 {
					into.why = append(into.why, fmt.Sprintf("after %s: %s", took.Round(time.Millisecond), fail))
				}
				into.mu.Unlock()
			}
			if res != nil {
				res.Body.Close()
			}
			time.Sleep(pause)
		}
	}
	for range 3 {
		load.Go(func() { send(flood, &floodT, 0) })
	}
	load.Go(func() { send(calm, &calmT, 400*time.Millisecond) }) // 2.5/s: under its 5/s
	waitMetric := func(what, name string, want func(float64) bool, labels ...string) {
		t.Helper()
		if !servicetest.Eventually(5*time.Second, func() bool { return want(metricValue(t, p.DevURL, name, labels...)) }) {
			t.Fatalf("%s: %s%v = %v", what, name, labels, metricValue(t, p.DevURL, name, labels...))
		}
	}
	waitMetric("before the fault: shared", "project_rate_decisions_total", func(v float64) bool { return v > 0 }, `where="shared"`)
	waitMetric("before the fault: shared", "project_rate_shared", func(v float64) bool { return v == 1 })

	r.Kill(t)
	waitMetric("Redis killed: local limiting", "project_rate_shared", func(v float64) bool { return v == 0 })
	localBefore := metricValue(t, p.DevURL, "project_rate_decisions_total", `where="local"`, `result="limited"`)
	time.Sleep(2 * time.Second)
	if local := metricValue(t, p.DevURL, "project_rate_decisions_total", `where="local"`, `result="limited"`); local <= localBefore {
		t.Fatalf("no request limited locally while Redis was gone (%v then %v)", localBefore, local)
	}
	r.Restart(t)
	waitMetric("Redis back: shared again", "project_rate_shared", func(v float64) bool { return v == 1 })
	sharedAfter := metricValue(t, p.DevURL, "project_rate_decisions_total", `where="shared"`)
	waitMetric("shared decisions resume", "project_rate_decisions_total", func(v float64) bool { return v > sharedAfter }, `where="shared"`)

	r.Pause(t) // silent: every call waits for RateLimit.Timeout
	waitMetric("Redis silent: local limiting", "project_rate_shared", func(v float64) bool { return v == 0 })
	time.Sleep(time.Second)
	r.Unpause(t)
	waitMetric("Redis answers again: shared", "project_rate_shared", func(v float64) bool { return v == 1 })
	time.Sleep(500 * time.Millisecond)
	close(stop)
	load.Wait()

	if floodT.failed.Load()+calmT.failed.Load() != 0 {
		t.Fatalf("%d failed answers (5xx or no answer) while Redis came and went, want 0: %q %q",
			floodT.failed.Load()+calmT.failed.Load(), floodT.why, calmT.why)
	}
	if floodT.limited.Load() == 0 || floodT.ok.Load() == 0 {
		t.Fatalf("the flooding client: %d admitted, %d limited; want both", floodT.ok.Load(), floodT.limited.Load())
	}
	if calmT.limited.Load() != 0 || calmT.ok.Load() < 10 {
		t.Fatalf("the well-behaved client: %d admitted, %d limited; want every request admitted", calmT.ok.Load(), calmT.limited.Load())
	}
	// RateLimit.Timeout (200ms) bounds what Redis may add to an answer; the
	// margin is for a loaded 2-core machine (go-zero's own client took 3 s
	// per call on a paused Redis, whatever the deadline).
	if slowest := time.Duration(max(floodT.slowest.Load(), calmT.slowest.Load())); slowest > 200*time.Millisecond+1300*time.Millisecond {
		t.Fatalf("a request took %s while Redis was away: a silent Redis stalled it", slowest)
	}
	if n := metricValue(t, p.DevURL, "project_rate_transitions_total", `to="local"`); n < 2 {
		t.Fatalf("%v switches to local limiting, want one per fault (2)", n)
	}
	t.Logf("flooding client: %d admitted, %d limited; well-behaved: %d admitted; slowest answer %s",
		floodT.ok.Load(), floodT.limited.Load(), calmT.ok.Load(), time.Duration(max(floodT.slowest.Load(), calmT.slowest.Load())))
}
