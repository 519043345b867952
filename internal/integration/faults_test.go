package integration

import (
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// The fault tests are not parallel: each compares the process's goroutine
// count with a baseline taken in the same test, which other tests' goroutines
// would blur. Every bound is relative to the configured request timeout.

// goroutinesBackTo waits until the goroutine count is back near baseline.
// The slack covers the HTTP client's and server's keep-alive connections,
// which legitimately outlive a request.
func goroutinesBackTo(t *testing.T, baseline int) {
	t.Helper()
	const slack = 12
	if !servicetest.Eventually(5*time.Second, func() bool { return runtime.NumGoroutine() <= baseline+slack }) {
		t.Errorf("goroutines: %d after the fault, baseline %d (+%d slack)", runtime.NumGoroutine(), baseline, slack)
	}
}

// fault table rows report what the service answered.
func logFault(t *testing.T, fault string, answer servicetest.Answer, took, timeout time.Duration) {
	t.Helper()
	body := answer.Body
	if answer.Status == http.StatusOK {
		body = "(the record)"
	}
	t.Logf("FAULT %-34s -> %d %-32s in %6.1f ms (%.2f x timeout)",
		fault, answer.Status, body, float64(took.Microseconds())/1000, float64(took)/float64(timeout))
}

func timedGet(t *testing.T, url string) (servicetest.Answer, time.Duration) {
	t.Helper()
	start := time.Now()
	res := servicetest.Get(t, url)
	return res, time.Since(start)
}

// TestFault_DatabaseDownThenBack: with the database unreachable, requests
// fail fast with 503 unavailable, the process stays up, and 200s resume by
// themselves once the database is back — no restart.
func TestFault_DatabaseDownThenBack(t *testing.T) {
	const timeout = time.Second
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(timeout)))
	warm(t, s, 3)
	baseline := runtime.NumGoroutine()

	p.Cut()
	for i := range 10 {
		res, took := timedGet(t, s.URL+"/project/1")
		if i == 0 {
			logFault(t, "database down (connection refused)", res, took, timeout)
		}
		if res.Status != http.StatusServiceUnavailable || servicetest.ErrorCode(t, res.Body) != "unavailable" {
			t.Fatalf("request %d with the database down: %d %s, want 503 unavailable", i, res.Status, res.Body)
		}
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		if took > timeout/2 {
			t.Errorf("request %d took %s with the database down, want well under the timeout %s", i, took, timeout)
		}
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	if !servicetest.Eventually(10*time.Second, func() bool { return servicetest.Get(t, s.URL+"/project/1").Status == http.StatusOK }) {
		t.Fatal("no 200 within 10s of the database coming back")
	}
	t.Logf("FAULT database back                        -> 200 again after %s (breaker recovery)", time.Since(back).Round(time.Millisecond))
	goroutinesBackTo(t, baseline)
}

// TestFault_BlackholeOpensTheBreaker: a database that accepts connections
// but never answers costs each request its full timeout (504) until go-zero's
// breaker opens; from then on requests are refused fast with 503.
func TestFault_BlackholeOpensTheBreaker(t *testing.T) {
	const timeout = 250 * time.Millisecond
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(timeout)))
	warm(t, s, 3)
	baseline := runtime.NumGoroutine()

	// timeout=0: data is held forever, nothing comes back.
	if err := p.AddToxic("blackhole", "timeout", "downstream", map[string]any{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	fastRefusals := 0
	for i := 0; i < 40 && fastRefusals < 3; i++ {
		res, took := timedGet(t, s.URL+"/project/1")
		switch {
		case res.Status == http.StatusGatewayTimeout:
			if took > timeout+timeout/2 {
				t.Errorf("504 after %s, want within 1.5 x timeout", took)
			}
			if i == 0 {
				logFault(t, "database blackholed", res, took, timeout)
			}
		case res.Status == http.StatusServiceUnavailable && took < timeout/2:
			if fastRefusals == 0 {
				logFault(t, "blackhole, breaker open", res, took, timeout)
			}
			fastRefusals++
			if code := servicetest.ErrorCode(t, res.Body); code != "unavailable" {
				t.Fatalf("breaker refusal code %s", code)
			}
		case res.Status == http.StatusServiceUnavailable:
			// Refused by the breaker after a half-open probe: still bounded.
		default:
			t.Fatalf("request %d: %d %s, want 504 or 503", i, res.Status, res.Body)
		}
	}
	if fastRefusals < 3 {
		t.Fatal("the breaker never opened: requests kept waiting for the full timeout")
	}
	if !servicetest.Eventually(2*time.Second, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
		t.Fatalf("pool InUse = %d with the database blackholed, want 0", s.Svc.Store.PrimaryStats().InUse)
	}
	p.Reset()
	if !servicetest.Eventually(10*time.Second, func() bool { return servicetest.Get(t, s.URL+"/project/1").Status == http.StatusOK }) {
		t.Fatal("no recovery within 10s after the blackhole ended")
	}
	goroutinesBackTo(t, baseline)
}

// TestFault_ConnectionResetMidQuery: the database resets connections while
// answering; the request gets 503 (never a panic, never a partial record),
// bad connections leave the pool, and the next requests succeed.
func TestFault_ConnectionResetMidQuery(t *testing.T) {
	const timeout = time.Second
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(timeout)))
	warm(t, s, 3)
	baseline := runtime.NumGoroutine()
	if err := p.AddToxic("reset", "reset_peer", "downstream", map[string]any{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	res, took := timedGet(t, s.URL+"/project/1")
	logFault(t, "connection reset by peer", res, took, timeout)
	if res.Status != http.StatusServiceUnavailable || servicetest.ErrorCode(t, res.Body) != "unavailable" {
		t.Fatalf("with resets: %d %s, want 503 unavailable", res.Status, res.Body)
	}
	if took > timeout {
		t.Fatalf("reset answered after %s, want within the timeout", took)
	}
	p.Reset()
	if !servicetest.Eventually(10*time.Second, func() bool { return servicetest.Get(t, s.URL+"/project/1").Status == http.StatusOK }) {
		t.Fatal("no recovery after the resets ended")
	}
	// Once recovered, no request trips over a broken pooled connection.
	for i := range 20 {
		if res := servicetest.Get(t, s.URL+"/project/1"); res.Status != http.StatusOK {
			t.Fatalf("request %d after recovery: %d %s", i, res.Status, res.Body)
		}
	}
	if st := s.Svc.Store.PrimaryStats(); st.InUse != 0 || st.OpenConnections > 32 {
		t.Fatalf("pool after resets: %+v", st)
	}
	goroutinesBackTo(t, baseline)
}

// TestFault_SlowLinks: a bandwidth-starved link and a slow-closing one are
// bounded by the request deadline: 504 at the deadline, never a hang, and
// connections come back.
func TestFault_SlowLinks(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name, typ  string
		attributes map[string]any
		wantStatus int
	}{
		// 1 KB/s: project 1's answers (a few KB) cannot arrive in time.
		{"bandwidth 1 KB/s", "bandwidth", map[string]any{"rate": 1}, http.StatusGatewayTimeout},
		// Data trickles through in 1-byte slices 20 ms apart.
		{"sliced 1 B / 20 ms", "slicer", map[string]any{"average_size": 1, "size_variation": 0, "delay": 20000}, http.StatusGatewayTimeout},
		// Closing is delayed, answers are not: requests are unaffected.
		{"slow close 2 s", "slow_close", map[string]any{"delay": 2000}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proxied(t)
			s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(timeout)))
			warm(t, s, 3)
			baseline := runtime.NumGoroutine()
			if err := p.AddToxic("slow", tc.typ, "downstream", tc.attributes); err != nil {
				t.Fatal(err)
			}
			res, took := timedGet(t, s.URL+"/project/1")
			logFault(t, tc.name, res, took, timeout)
			if res.Status != tc.wantStatus {
				t.Fatalf("%d %s, want %d", res.Status, res.Body, tc.wantStatus)
			}
			if took > timeout+timeout/2 {
				t.Fatalf("answered after %s, want within 1.5 x timeout (%s)", took, timeout+timeout/2)
			}
			if !servicetest.Eventually(2*timeout, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
				t.Fatalf("pool InUse = %d", s.Svc.Store.PrimaryStats().InUse)
			}
			p.Reset()
			if !servicetest.Eventually(10*time.Second, func() bool { return servicetest.Get(t, s.URL+"/project/1").Status == http.StatusOK }) {
				t.Fatal("no recovery")
			}
			goroutinesBackTo(t, baseline)
		})
	}
}
