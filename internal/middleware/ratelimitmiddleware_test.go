package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/middleware"
	"github.com/clinicaldata/projectsvc/internal/ratelimit"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// limiter is a rate limiter over a throwaway Redis: burst requests per
// burst/(rate per window) — e.g. 2 per 2 s for 60/min with a burst of 2.
func limiter(t *testing.T, rate int, window time.Duration, burst int) (*ratelimit.Limiter, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	l, err := ratelimit.New(config.RedisConf{Addr: mr.Addr()},
		config.RateLimitConf{Rate: rate, Window: window, Burst: burst, Instances: 1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, mr
}

// limited runs RateLimit over a handler that answers 204, for caller p
// (nil: none), and reports whether the handler ran.
func limited(m *middleware.RateLimitMiddleware, ctx context.Context, p *auth.Principal) (*httptest.ResponseRecorder, bool) {
	ran := false
	h := m.Handle(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		w.WriteHeader(http.StatusNoContent)
	})
	if p != nil {
		ctx = auth.Attach(ctx, p)
	}
	r := httptest.NewRequest(http.MethodGet, "/project/1", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	h(w, r)
	return w, ran
}

func TestRateLimit_CountsEachClientsRequestsAndRefusesOverItsQuota(t *testing.T) {
	l, _ := limiter(t, 60, time.Minute, 2) // 2 per 2 s
	m := middleware.NewRateLimitMiddleware(l)
	client := &auth.Principal{Subject: "svc", ClientID: "dashboard", ReadAll: true}
	for i, remaining := range []string{"1", "0"} {
		w, ran := limited(m, context.Background(), client)
		if !ran || w.Code != http.StatusNoContent {
			t.Fatalf("request %d: %d, handler ran %v: want it through", i+1, w.Code, ran)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != `"default";q=2;w=2` {
			t.Fatalf("RateLimit-Policy %q", got)
		}
		if got := w.Header().Get("RateLimit"); got != `"default";r=`+remaining+`;t=2` {
			t.Fatalf("request %d: RateLimit %q, want %s left, reset in 2 s", i+1, got, remaining)
		}
		if w.Header().Get("Retry-After") != "" {
			t.Fatal("Retry-After on an answer let through")
		}
	}
	w, ran := limited(m, context.Background(), client)
	if ran || w.Code != http.StatusTooManyRequests {
		t.Fatalf("request 3: %d, handler ran %v: want 429 before the handler", w.Code, ran)
	}
	code, message := servicetest.ErrorBody(t, w.Body.String())
	if code != "resource_exhausted" || !strings.Contains(message, "quota of 2 requests per 2s") || !strings.Contains(message, "retry after 2 s") {
		t.Fatalf("429 body %s", w.Body)
	}
	if w.Header().Get("Retry-After") != "2" || w.Header().Get("RateLimit") != `"default";r=0;t=2` {
		t.Fatalf("429 headers %v", w.Header())
	}
	// Another client has its own quota.
	if w, ran := limited(m, context.Background(), &auth.Principal{Subject: "svc", ClientID: "etl", ReadAll: true}); !ran || w.Header().Get("RateLimit") != `"default";r=1;t=2` {
		t.Fatalf("another client: %d %v", w.Code, w.Header())
	}
}

// TestRateLimit_TheClientIsTheTokensClientElseItsSubject: callers of one
// client share its quota whatever their subjects; without a client id
// each subject is a client of its own.
func TestRateLimit_TheClientIsTheTokensClientElseItsSubject(t *testing.T) {
	l, _ := limiter(t, 60, time.Minute, 2)
	m := middleware.NewRateLimitMiddleware(l)
	limited(m, context.Background(), &auth.Principal{Subject: "alice", ClientID: "portal", ReadAll: true})
	w, _ := limited(m, context.Background(), &auth.Principal{Subject: "bob", ClientID: "portal", ReadAll: true})
	if got := w.Header().Get("RateLimit"); got != `"default";r=0;t=2` {
		t.Fatalf("second subject of client portal: RateLimit %q, want the client's quota shared (0 left)", got)
	}
	w, _ = limited(m, context.Background(), &auth.Principal{Subject: "carol", ReadAll: true})
	if got := w.Header().Get("RateLimit"); got != `"default";r=1;t=2` {
		t.Fatalf("subject carol without a client: RateLimit %q, want a quota of its own", got)
	}
	w, _ = limited(m, context.Background(), &auth.Principal{Subject: "dave", ReadAll: true})
	if got := w.Header().Get("RateLimit"); got != `"default";r=1;t=2` {
		t.Fatalf("subject dave without a client: RateLimit %q, want a quota of its own", got)
	}
}

// TestRateLimit_ResetIsInWholeSecondsRoundedUp: the window's remaining
// time is announced in whole seconds, never less than what is left.
func TestRateLimit_ResetIsInWholeSecondsRoundedUp(t *testing.T) {
	l, mr := limiter(t, 60, time.Minute, 3) // 3 per 3 s
	m := middleware.NewRateLimitMiddleware(l)
	client := &auth.Principal{Subject: "svc", ClientID: "c", ReadAll: true}
	for _, tc := range []struct {
		elapsed time.Duration
		reset   string
	}{{0, "3"}, {500 * time.Millisecond, "3"}, {time.Second, "2"}, {1001 * time.Millisecond, "2"}} {
		mr.FastForward(tc.elapsed)
		w, _ := limited(m, context.Background(), client)
		if got := w.Header().Get("RateLimit"); !strings.HasSuffix(got, ";t="+tc.reset) {
			t.Fatalf("%s into the window: RateLimit %q, want t=%s", tc.elapsed, got, tc.reset)
		}
		mr.FastForward(-tc.elapsed)
	}
}

// TestRateLimit_ARefusalIsNotAudited: a 429 discloses nothing and asks for
// nothing: it leaves no row, while an answer let through is audited.
func TestRateLimit_ARefusalIsNotAudited(t *testing.T) {
	l, _ := limiter(t, 60, time.Minute, 1) // 1 per 1 s
	m := middleware.NewRateLimitMiddleware(l)
	client := &auth.Principal{Subject: "svc", ClientID: "c", ReadAll: true}
	trail := &memTrail{}
	request := func() (int, int) {
		ctx, rec := audit.Begin(httptest.NewRequest(http.MethodGet, "/project/3", nil))
		ctx = audit.Arm(ctx, trail)
		w, _ := limited(m, ctx, client)
		before := len(trail.rows)
		if err := rec.Finish(w.Code); err != nil {
			t.Fatal(err)
		}
		return w.Code, len(trail.rows) - before
	}
	if status, rows := request(); status != http.StatusNoContent || rows != 1 {
		t.Fatalf("first request: %d with %d rows, want it through and audited", status, rows)
	}
	if status, rows := request(); status != http.StatusTooManyRequests || rows != 0 {
		t.Fatalf("second request: %d with %d rows, want 429 and no row", status, rows)
	}
}

// TestRateLimit_OnlyVerifiedCallersAreLimited: with rate limiting off, no
// caller (Auth did not run), or the anonymous caller (authentication
// off), requests go through without the quota headers.
func TestRateLimit_OnlyVerifiedCallersAreLimited(t *testing.T) {
	l, _ := limiter(t, 60, time.Minute, 1)
	for name, tc := range map[string]struct {
		m *middleware.RateLimitMiddleware
		p *auth.Principal
	}{
		"rateLimitingOff": {middleware.NewRateLimitMiddleware(nil), &auth.Principal{Subject: "s", ClientID: "c", ReadAll: true}},
		"noCaller":        {middleware.NewRateLimitMiddleware(l), nil},
		"anonymous":       {middleware.NewRateLimitMiddleware(l), auth.Anonymous},
	} {
		t.Run(name, func(t *testing.T) {
			for range 3 {
				w, ran := limited(tc.m, context.Background(), tc.p)
				if !ran || w.Code != http.StatusNoContent || w.Header().Get("RateLimit") != "" || w.Header().Get("RateLimit-Policy") != "" {
					t.Fatalf("%d (handler ran %v), headers %v: want it through, unlimited", w.Code, ran, w.Header())
				}
			}
		})
	}
}
