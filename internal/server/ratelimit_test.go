package server_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

var (
	policyHeader    = regexp.MustCompile(`^"(default|[^"]+)";q=(\d+);w=(\d+)$`)
	rateLimitHeader = regexp.MustCompile(`^"(default|[^"]+)";r=(\d+);t=(\d+)$`)
)

// TestRateLimit_HeadersOnEveryAnswerAnd429OverTheQuota: through the real
// stack with a Redis (miniredis) and authentication on, a client's answers
// carry its quota (RateLimit-Policy, RateLimit counting down); past it the
// answer is 429 resource_exhausted with Retry-After, before any read, and
// no audit row; another client is not affected; the probes and the
// OpenAPI document are not limited.
func TestRateLimit_HeadersOnEveryAnswerAnd429OverTheQuota(t *testing.T) {
	mr := miniredis.RunT(t)
	m := seeded()
	s, iss, audit := securedWith(t, m, time.Second, "Redis: {Addr: "+mr.Addr()+"}",
		"RateLimit: {Rate: 150, Window: 1m, Burst: 5, Clients: {reads-one: {Rate: 600, Window: 1m, Burst: 20}}}")
	all := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
	for i := 1; i <= 5; i++ {
		path := "/project/1"
		if i == 3 {
			path = "/project/999" // a 404 counts, and carries the headers too
		}
		res := servicetest.Do(t, http.MethodGet, s.URL+path, all)
		if res.Status != http.StatusOK && res.Status != http.StatusNotFound {
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
		p := policyHeader.FindStringSubmatch(res.Header.Get("RateLimit-Policy"))
		r := rateLimitHeader.FindStringSubmatch(res.Header.Get("RateLimit"))
		if p == nil || r == nil || p[1] != "default" || p[2] != "5" || p[3] != "2" || r[2] != strconv.Itoa(5-i) {
			t.Fatalf("request %d: RateLimit-Policy %q RateLimit %q, want \"default\";q=5;w=2 and %d left",
				i, res.Header.Get("RateLimit-Policy"), res.Header.Get("RateLimit"), 5-i)
		}
	}
	audit.Take()
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", all)
	if res.Status != http.StatusTooManyRequests || servicetest.ErrorCode(t, res.Body) != "resource_exhausted" {
		t.Fatalf("over the quota: %d %s, want 429 resource_exhausted", res.Status, res.Body)
	}
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 2 || rateLimitHeader.FindStringSubmatch(res.Header.Get("RateLimit")) == nil {
		t.Fatalf("429 headers: Retry-After %q RateLimit %q", res.Header.Get("Retry-After"), res.Header.Get("RateLimit"))
	}
	if rows := audit.Take(); len(rows) != 0 {
		t.Fatalf("the 429 left audit rows: %+v", rows)
	}
	one := bearer(iss.MustToken(t, readsOne.ID, readsOne.Secret, auth.ScopeRead))
	other := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", one)
	if other.Status != http.StatusOK || other.Header.Get("RateLimit-Policy") != `"reads-one";q=20;w=2` {
		t.Fatalf("another client, its own quota: %d %q", other.Status, other.Header.Get("RateLimit-Policy"))
	}
	for _, path := range []string{"/healthz", "/openapi.json"} {
		for range 10 {
			if res := servicetest.Get(t, s.URL+path); res.Status != http.StatusOK || res.Header.Get("RateLimit") != "" {
				t.Fatalf("%s: %d RateLimit %q, want 200 and no limit", path, res.Status, res.Header.Get("RateLimit"))
			}
		}
	}
}

// TestRateLimit_OffWithoutRedis: no Redis configured, nothing is limited
// and no answer claims a quota.
func TestRateLimit_OffWithoutRedis(t *testing.T) {
	s, iss, _ := securedWith(t, seeded(), time.Second, "RateLimit: {Rate: 1, Window: 1m, Burst: 1}")
	all := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
	for range 5 {
		res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", all)
		if res.Status != http.StatusOK || res.Header.Get("RateLimit-Policy") != "" {
			t.Fatalf("%d RateLimit-Policy %q, want 200 without a quota", res.Status, res.Header.Get("RateLimit-Policy"))
		}
	}
}
