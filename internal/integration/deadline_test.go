package integration

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// proxied starts a fault proxy in front of the shared database server.
func proxied(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(dbtest.Shared(t).Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// warm opens n pooled connections before latency is injected, so measured
// requests pay query round trips only, not connection handshakes.
func warm(t *testing.T, s *servicetest.Service, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := servicetest.Get(t, s.URL+"/project/1"); res.Status != http.StatusOK {
				t.Errorf("warm-up: status %d", res.Status)
			}
		}()
	}
	wg.Wait()
}

// TestFanOut_ReadsOverlapOverTheNetwork: with latency L added to every
// database answer, a serial version would take at least 3L; the fan-out
// takes about L. The bound (2L) is relative to the injected delay only.
func TestFanOut_ReadsOverlapOverTheNetwork(t *testing.T) {
	t.Parallel()
	const L = 150 * time.Millisecond
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql")))))
	warm(t, s, 4)
	if err := p.Latency(L); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for range 5 {
		start := time.Now()
		res := servicetest.Get(t, s.URL+"/project/1")
		took = append(took, time.Since(start))
		if res.Status != http.StatusOK {
			t.Fatalf("status = %d: %s", res.Status, res.Body)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	median := took[len(took)/2]
	t.Logf("latency L=%s: request median %s (%.2f L), all %v", L, median, float64(median)/float64(L), took)
	if median < L {
		t.Fatalf("median %s is below the injected latency %s: the latency was not applied", median, L)
	}
	if median >= 2*L {
		t.Fatalf("median %s >= 2L (%s): the three reads do not overlap (serial would be >= 3L)", median, 2*L)
	}
}

// TestDeadline_504AndNoConnectionHeld: latency beyond the request timeout
// gives 504 at the deadline, and every connection comes back to the pool.
func TestDeadline_504AndNoConnectionHeld(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(timeout)))
	warm(t, s, 3)
	if err := p.Latency(10 * timeout); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := servicetest.Get(t, s.URL+"/project/1")
	elapsed := time.Since(start)
	if res.Status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d (%s), want 504", res.Status, res.Body)
	}
	if code := servicetest.ErrorCode(t, res.Body); code != "timeout" {
		t.Fatalf("code = %s, want timeout", code)
	}
	if elapsed < timeout || elapsed > timeout+timeout/2 {
		t.Fatalf("answered after %s, want within [timeout, 1.5 x timeout] = [%s, %s]", elapsed, timeout, timeout+timeout/2)
	}
	// Connections come back well before the injected latency would have let
	// the queries finish on their own (10 x timeout).
	if !servicetest.Eventually(2*timeout, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
		t.Fatalf("pool InUse = %d after the deadline, want 0", s.Svc.Store.PrimaryStats().InUse)
	}
	p.Reset()
	if res := servicetest.Get(t, s.URL+"/project/1"); res.Status != http.StatusOK {
		t.Fatalf("after the fault: status %d, want 200", res.Status)
	}
}

// TestDisconnect_CancelsQueries: a client that gives up cancels the
// request's queries; their connections return to the pool long before the
// (injected) database answer would have arrived.
func TestDisconnect_CancelsQueries(t *testing.T) {
	t.Parallel()
	const slow = 5 * time.Second
	p := proxied(t)
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), servicetest.Timeout(2*slow)))
	warm(t, s, 3)
	if err := p.Latency(slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/project/1", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			t.Errorf("request finished with %d; want it abandoned", res.StatusCode)
		}
	}()
	if !servicetest.Eventually(slow/2, func() bool { return s.Svc.Store.PrimaryStats().InUse > 0 }) {
		t.Fatal("the request's queries never took a connection")
	}
	abandoned := time.Now()
	cancel()
	<-done
	if !servicetest.Eventually(slow/2, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
		t.Fatalf("pool InUse = %d %s after the client left, want 0", s.Svc.Store.PrimaryStats().InUse, time.Since(abandoned))
	}
	t.Logf("connections back %s after the client disconnected (injected latency %s)", time.Since(abandoned), slow)
}
