package ratelimit

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/zeromicro/go-zero/core/limit"
	"github.com/zeromicro/go-zero/core/stores/redis"

	"github.com/clinicaldata/projectsvc/internal/config"
)

func conf(rate int, window time.Duration, burst int) config.RateLimitConf {
	return config.RateLimitConf{Rate: rate, Window: window, Burst: burst, Instances: 1, Timeout: 100 * time.Millisecond}
}

func newTestLimiter(t *testing.T, c config.RateLimitConf) (*Limiter, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	l, err := New(config.RedisConf{Addr: mr.Addr()}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, mr
}

func TestNewPolicy_KeepsTheSustainedRateAndTheBurst(t *testing.T) {
	for _, tc := range []struct {
		rate      int
		window    time.Duration
		burst     int
		quota     int
		period    time.Duration
		instances int
		localRate float64
		localB    int
	}{
		{3000, time.Minute, 100, 100, 2 * time.Second, 1, 50, 100},        // 50/s: 100 per 2 s
		{600, 10 * time.Minute, 20, 20, 20 * time.Second, 1, 1, 20},       // Castor's 600 per 10 min: 20 per 20 s
		{100, time.Minute, 7, 8, 5 * time.Second, 1, 100.0 / 60, 8},       // 4.2 s rounds up to 5, quota scaled to 8
		{1000, time.Second, 50, 1000, time.Second, 1, 1000, 1000},         // bursts are not finer than a second
		{10, time.Minute, 100, 100, 600 * time.Second, 1, 10.0 / 60, 100}, // a burst above the rate: 100 per 10 min
		{3000, time.Minute, 100, 100, 2 * time.Second, 4, 12.5, 25},       // four instances: a quarter each, locally
	} {
		p := newPolicy("default", tc.rate, tc.window, tc.burst, tc.instances)
		if p.Quota != tc.quota || p.Period != tc.period || float64(p.local) < tc.localRate-1e-9 || float64(p.local) > tc.localRate+1e-9 || p.burst != tc.localB {
			t.Errorf("%d per %s, burst %d, %d instances: %+v, want quota %d per %s, local %.3f/s burst %d",
				tc.rate, tc.window, tc.burst, tc.instances, p, tc.quota, tc.period, tc.localRate, tc.localB)
		}
		// The sustained rate is kept (within the rounding of whole seconds).
		if got, want := float64(p.Quota)/p.Period.Seconds(), float64(tc.rate)/tc.window.Seconds(); got < want*0.8 || got > want*1.25 {
			t.Errorf("%d per %s: enforced %.3f/s, want about %.3f/s", tc.rate, tc.window, got, want)
		}
	}
}

func TestTake_CountsDownAndRefusesOverTheQuota(t *testing.T) {
	l, _ := newTestLimiter(t, conf(300, time.Minute, 10)) // 10 per 2 s
	ctx := context.Background()
	for i := 1; i <= 10; i++ {
		d := l.Take(ctx, "site-a")
		if !d.Allowed || d.Remaining != 10-i || !d.Shared || d.Reset <= 0 || d.Reset > 2*time.Second {
			t.Fatalf("request %d: %+v, want allowed with %d left, reset within the 2 s window", i, d, 10-i)
		}
	}
	d := l.Take(ctx, "site-a")
	if d.Allowed || d.Remaining != 0 || d.Reset <= 0 {
		t.Fatalf("request 11: %+v, want refused, nothing left, a reset", d)
	}
	if other := l.Take(ctx, "site-b"); !other.Allowed || other.Remaining != 9 {
		t.Fatalf("another client after site-a's flood: %+v, want its own full quota", other)
	}
}

func TestTake_AClientsOwnQuotaOverridesTheDefault(t *testing.T) {
	c := conf(300, time.Minute, 2)
	c.Clients = map[string]config.ClientRate{"etl": {Rate: 3000, Window: time.Minute, Burst: 50}}
	l, _ := newTestLimiter(t, c)
	ctx := context.Background()
	allowed := func(client string, n int) int {
		ok := 0
		for range n {
			if l.Take(ctx, client).Allowed {
				ok++
			}
		}
		return ok
	}
	if got := allowed("etl", 60); got != 50 {
		t.Fatalf("etl (50 per second's window) got %d of 60 through", got)
	}
	if got := allowed("dashboard", 60); got != 5 { // the default: 300/min with a burst of 2 is 5 per 1 s
		t.Fatalf("dashboard (default policy) got %d of 60 through, want 5", got)
	}
	if d := l.Take(ctx, "etl"); d.Policy.Name != "etl" || d.Policy.Header() != `"etl";q=50;w=1` {
		t.Fatalf("etl's policy %+v header %s", d.Policy, d.Policy.Header())
	}
}

// TestTake_DecidesAsGoZerosPeriodLimit: the window script is PeriodLimit's
// algorithm; over the same requests, both allow and refuse alike.
func TestTake_DecidesAsGoZerosPeriodLimit(t *testing.T) {
	l, mr := newTestLimiter(t, conf(600, time.Minute, 7)) // 10/s: 10 per 1 s
	p := l.policies.fallback
	gz := limit.NewPeriodLimit(int(p.Period/time.Second), p.Quota, redis.New(mr.Addr()), "gozero:")
	ctx := context.Background()
	for round := range 3 {
		for i := range 25 {
			ours := l.Take(ctx, "c").Allowed
			code, err := gz.Take("c")
			if err != nil {
				t.Fatal(err)
			}
			theirs := code == limit.Allowed || code == limit.HitQuota
			if ours != theirs {
				t.Fatalf("round %d request %d: ours allowed=%v, PeriodLimit's code %d", round, i, ours, code)
			}
		}
		mr.FastForward(p.Period) // both windows expire in Redis
		forgetRefusals(l)        // ... and ours, kept by the host's clock
	}
}

// TestTake_FallsBackLocallyAndSharesAgain: with Redis gone a decision never
// fails and follows the instance's share; once Redis answers, decisions
// are shared again.
func TestTake_FallsBackLocallyAndSharesAgain(t *testing.T) {
	c := conf(3000, time.Minute, 100)
	c.Instances = 4 // a quarter of the quota each: 25 at once
	l, mr := newTestLimiter(t, c)
	ctx := context.Background()
	if !l.Take(ctx, "site").Shared {
		t.Fatal("not shared while Redis answers")
	}
	mr.Close()
	allowed := 0
	for i := range lossAfter {
		d := l.Take(ctx, "site")
		if d.Shared || !d.Allowed {
			t.Fatalf("Redis gone, request %d: %+v, want a local decision, allowed", i, d)
		}
		if switched := !l.Shared(); switched != (i == lossAfter-1) {
			t.Fatalf("after %d failed calls the limiter is shared=%v: want it local after %d in a row", i+1, l.Shared(), lossAfter)
		}
		allowed++
	}
	for range 100 - lossAfter {
		if l.Take(ctx, "site").Allowed {
			allowed++
		}
	}
	if allowed < 25 || allowed > 27 { // 25 at once, plus what 12.5/s refills meanwhile
		t.Fatalf("%d of 100 allowed locally, want this instance's share of the burst (25)", allowed)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * probeEvery)
	for !l.Shared() {
		if time.Now().After(deadline) {
			t.Fatal("not shared again within 3 probes of Redis answering")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := l.Take(ctx, "site"); !d.Shared || !d.Allowed {
		t.Fatalf("Redis back: %+v, want a shared decision", d)
	}
}

// TestTake_AFlappingRedisGivesNoFreshShare: a client that spent its local
// share in one outage does not get a new one because Redis came back and
// went again (each return would otherwise be a free burst).
func TestTake_AFlappingRedisGivesNoFreshShare(t *testing.T) {
	c := conf(30, time.Minute, 10) // 10 at once, 0.5/s
	c.Instances = 2                // locally: 5 at once, 0.25/s
	l, mr := newTestLimiter(t, c)
	ctx := context.Background()
	mr.Close()
	for i := range 5 {
		if d := l.Take(ctx, "etl"); !d.Allowed || d.Shared {
			t.Fatalf("request %d in the outage: %+v, want allowed locally", i, d)
		}
	}
	if l.Take(ctx, "etl").Allowed {
		t.Fatal("the 6th request in the outage allowed: the local share is 5")
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for !l.Shared() {
		if time.Since(back) > 3*probeEvery {
			t.Fatal("not shared again within 3 probes of Redis answering")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mr.Close()
	// Under 4 s have passed: the share refilled by less than one request.
	if d := l.Take(ctx, "etl"); d.Allowed || d.Shared || time.Since(back) >= 4*time.Second {
		t.Fatalf("second outage, %s after the first: %+v, want refused locally (the share is still spent)", time.Since(back), d)
	}
}

// forgetRefusals drops the refusals the limiter keeps until each window's
// end by the host's clock, for tests that move Redis' clock instead.
func forgetRefusals(l *Limiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.refused)
}

// TestTake_OneFailedCallCostsOnlyItsRequest: a call to Redis that fails
// once (a late answer on a busy host, a connection Redis closed) decides
// its own request locally; the instance stays shared.
func TestTake_OneFailedCallCostsOnlyItsRequest(t *testing.T) {
	l, mr := newTestLimiter(t, conf(3000, time.Minute, 100))
	ctx := context.Background()
	if !l.Take(ctx, "site").Shared {
		t.Fatal("not shared while Redis answers")
	}
	mr.Close() // the pooled connection dies with it
	if d := l.Take(ctx, "site"); d.Shared || !d.Allowed || !l.Shared() {
		t.Fatalf("one failed call: %+v (limiter shared %v), want this request local, the limiter still shared", d, l.Shared())
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	if d := l.Take(ctx, "site"); !d.Shared || !l.Shared() {
		t.Fatalf("Redis back at once: %+v (limiter shared %v), want a shared decision", d, l.Shared())
	}
}

// TestTake_ARefusedClientCostsNoCallToRedis: once Redis refuses a client,
// its requests are refused without asking again until its window ends (a
// flood's 429s cost no call), with the headers' values counting down;
// then Redis decides again.
func TestTake_ARefusedClientCostsNoCallToRedis(t *testing.T) {
	l, mr := newTestLimiter(t, conf(60, time.Minute, 1)) // 1 per 1 s
	ctx := context.Background()
	if d := l.Take(ctx, "etl"); !d.Allowed {
		t.Fatalf("first request: %+v", d)
	}
	refused := l.Take(ctx, "etl")
	if refused.Allowed || !refused.Shared || refused.Reset <= 0 || refused.Reset > time.Second {
		t.Fatalf("second request: %+v, want refused by Redis for the rest of a 1 s window", refused)
	}
	calls := mr.CommandCount()
	for i := range 50 {
		d := l.Take(ctx, "etl")
		if d.Allowed || !d.Shared || d.Remaining != 0 || d.Reset > refused.Reset {
			t.Fatalf("request %d after the refusal: %+v, want refused until the window ends (%s)", i, d, refused.Reset)
		}
	}
	if n := mr.CommandCount() - calls; n != 0 {
		t.Fatalf("%d calls to Redis for a refused client's 50 requests, want 0", n)
	}
	if d := l.Take(ctx, "other"); !d.Allowed {
		t.Fatalf("another client refused: %+v", d)
	}
	time.Sleep(refused.Reset + 10*time.Millisecond)
	mr.FastForward(time.Second) // Redis' window ends too
	if d := l.Take(ctx, "etl"); !d.Allowed || !d.Shared {
		t.Fatalf("the next window: %+v, want allowed by Redis", d)
	}
}

// TestTake_RefusedClientsAreRememberedTogether: two clients over their
// quotas at once are both refused from memory, alternating, with no call
// to Redis: remembering one does not forget the other.
func TestTake_RefusedClientsAreRememberedTogether(t *testing.T) {
	l, mr := newTestLimiter(t, conf(60, time.Minute, 1)) // 1 per 1 s
	ctx := context.Background()
	for _, client := range []string{"etl", "sync"} {
		if d := l.Take(ctx, client); !d.Allowed {
			t.Fatalf("%s's first request: %+v", client, d)
		}
		if d := l.Take(ctx, client); d.Allowed || !d.Shared {
			t.Fatalf("%s's second request: %+v, want refused by Redis", client, d)
		}
	}
	calls := mr.CommandCount()
	for i := range 20 {
		for _, client := range []string{"etl", "sync"} {
			if d := l.Take(ctx, client); d.Allowed {
				t.Fatalf("request %d of %s: %+v, want refused until its window ends", i, client, d)
			}
		}
	}
	if n := mr.CommandCount() - calls; n != 0 {
		t.Fatalf("%d calls to Redis for two refused clients' 40 requests, want 0", n)
	}
}

// silentServer accepts connections and never answers: a Redis that hangs
// (paused, swapping, behind a dropped route).
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestTake_ASilentRedisCostsAtMostTheTimeout: a Redis that accepts and
// never answers holds no request longer than RateLimit.Timeout, however
// many arrive at once, and the limiter decides locally from then on.
func TestTake_ASilentRedisCostsAtMostTheTimeout(t *testing.T) {
	c := conf(3000, time.Minute, 100)
	c.Timeout = 50 * time.Millisecond
	l, err := New(config.RedisConf{Addr: silentServer(t)}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	var wg sync.WaitGroup
	took := make([]time.Duration, 20)
	shared := make([]bool, 20)
	for i := range took {
		wg.Go(func() {
			start := time.Now()
			d := l.Take(context.Background(), "site")
			took[i], shared[i] = time.Since(start), d.Shared
			if !d.Allowed {
				t.Errorf("request %d refused by a Redis that never answered", i)
			}
		})
	}
	wg.Wait()
	for i := range took {
		// The timeout, plus scheduling on a loaded 2-core machine.
		if took[i] > c.Timeout+250*time.Millisecond || shared[i] {
			t.Fatalf("request %d: %s (shared %v) against a silent Redis, want a local decision within %s", i, took[i], shared[i], c.Timeout)
		}
	}
	if l.Shared() {
		t.Fatal("still deciding on a Redis that never answers")
	}
	start := time.Now()
	if d := l.Take(context.Background(), "site"); d.Shared || time.Since(start) > 10*time.Millisecond {
		t.Fatalf("after the switch: %+v in %s, want local at once", d, time.Since(start))
	}
}

func TestNew_WithoutRedisNothingIsLimited(t *testing.T) {
	l, err := New(config.RedisConf{}, conf(1, time.Minute, 1))
	if err != nil || l != nil {
		t.Fatalf("New without an address: %v %v, want nil, nil (off)", l, err)
	}
}

func TestKey_IsBoundedWhateverTheClient(t *testing.T) {
	p := newPolicy("default", 1, time.Second, 1, 1)
	long := fmt.Sprintf("%0500d", 1)
	if k := key(p, long); len(k) > 100 {
		t.Fatalf("key of a 500-byte client is %d bytes", len(k))
	}
	if key(p, "a") == key(newPolicy("default", 2, time.Second, 2, 1), "a") {
		t.Fatal("two policies share a key: a changed quota would inherit the old window")
	}
}
