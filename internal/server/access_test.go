package server_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// The callers of the access tests.
var (
	readsAll   = oidctest.Client{ID: "reads-all", Secret: "secret-1", Scopes: []string{auth.ScopeReadAll}}
	readsOne   = oidctest.Client{ID: "reads-one", Secret: "secret-2", Scopes: []string{auth.ScopeRead}, ProjectIDs: []uint64{1}}
	noProjects = oidctest.Client{ID: "no-projects", Secret: "secret-3", Scopes: []string{"openid"}}
)

// securedServer is the service over fakes with authentication on, against
// a real OpenID Provider, and a fake audit table.
func securedServer(t *testing.T) (*servicetest.Service, *oidctest.Issuer, *fakes.AuditTable) {
	t.Helper()
	iss := oidctest.Start(t, readsAll, readsOne, noProjects)
	audit := &fakes.AuditTable{}
	c := servicetest.Config(t, servicetest.NoDatabase, servicetest.Issuer(iss.URL))
	s := servicetest.Start(t, c, store.WithModels(seeded().install), store.WithModels(audit.Install))
	return s, iss, audit
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func TestAccess_RefusalsAre401WithTheBearerChallengeAndLeaveNoAuditRow(t *testing.T) {
	s, iss, audit := securedServer(t)
	expired := iss.Claims("x", auth.ScopeReadAll)
	expired["exp"] = 1
	for _, tc := range []struct {
		name, authorization, challenge string
	}{
		{"get401NoToken", "", `Bearer realm="project-api"`},
		{"get401OtherScheme", "Basic dXNlcjpwYXNz", `Bearer realm="project-api"`},
		{"get401EmptyBearer", "Bearer ", `Bearer realm="project-api", error="invalid_token", error_description="the token is malformed"`},
		{"get401Garbage", "Bearer garbage", `Bearer realm="project-api", error="invalid_token", error_description="the token is malformed"`},
		{"get401Expired", "Bearer " + iss.Sign(expired), `Bearer realm="project-api", error="invalid_token", error_description="the token has expired"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.authorization != "" {
				h.Set("Authorization", tc.authorization)
			}
			res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h)
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("status %d (%s), want 401", res.Status, res.Body)
			}
			if code := servicetest.ErrorCode(t, res.Body); code != "unauthenticated" {
				t.Fatalf("code %q, want unauthenticated", code)
			}
			if got := res.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want exactly %q", got, tc.challenge)
			}
			if strings.Contains(res.Body, "Trial") || strings.Contains(res.Body, "CTP-") {
				t.Fatalf("a refused request got record data: %s", res.Body)
			}
		})
	}
	if rows := audit.Take(); len(rows) != 0 {
		t.Fatalf("401s left %d audit rows, want none", len(rows))
	}
}

func TestAccess_NoProjectScopeIs403AndAudited(t *testing.T) {
	s, iss, audit := securedServer(t)
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", bearer(iss.MustToken(t, noProjects.ID, noProjects.Secret, "openid")))
	if res.Status != http.StatusForbidden || servicetest.ErrorCode(t, res.Body) != "permission_denied" {
		t.Fatalf("got %d %s, want 403 permission_denied", res.Status, res.Body)
	}
	if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) {
		t.Fatalf("WWW-Authenticate %q, want insufficient_scope", got)
	}
	rows := audit.Take()
	if len(rows) != 1 || rows[0].Status != 403 || rows[0].Subject != "no-projects" || rows[0].GrantedBy != "" {
		t.Fatalf("audit rows %+v, want one 403 row for no-projects", rows)
	}
}

func TestAccess_ProjectOutsideTheGrantAnswersExactlyLikeAMissingOne(t *testing.T) {
	s, iss, audit := securedServer(t)
	one := iss.MustToken(t, readsOne.ID, readsOne.Secret, auth.ScopeRead)
	all := iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll)

	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", bearer(one)); res.Status != http.StatusOK {
		t.Fatalf("granted project 1: %d %s", res.Status, res.Body)
	}
	outside := servicetest.Do(t, http.MethodGet, s.URL+"/project/2", bearer(one)) // exists, not granted
	missing := servicetest.Do(t, http.MethodGet, s.URL+"/project/2", http.Header{"Authorization": {"Bearer " + all}})
	if missing.Status != http.StatusOK {
		t.Fatalf("project 2 exists for a read-all caller: %d", missing.Status)
	}
	absent := servicetest.Do(t, http.MethodGet, s.URL+"/project/3", bearer(all)) // does not exist
	if outside.Status != http.StatusNotFound || absent.Status != http.StatusNotFound {
		t.Fatalf("outside the grant %d, missing %d: both want 404", outside.Status, absent.Status)
	}
	if want := strings.Replace(absent.Body, "3", "2", 1); outside.Body != want {
		t.Fatalf("outside the grant:\n  %s\na missing project (id swapped):\n  %s\nthey must be identical", outside.Body, want)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate", "Vary", "ETag"} {
		if outside.Header.Get(h) != absent.Header.Get(h) {
			t.Errorf("header %s differs: %q vs %q", h, outside.Header.Get(h), absent.Header.Get(h))
		}
	}
	rows := audit.Take()
	if len(rows) != 4 {
		t.Fatalf("%d audit rows, want 4", len(rows))
	}
	if r := rows[1]; r.Status != 404 || r.GrantedBy != "" || r.ProjectId.Int64 != 2 || r.Subject != "reads-one" {
		t.Fatalf("the not-granted read's row %+v, want 404, project 2, no grant", r)
	}
	if r := rows[0]; r.Status != 200 || r.GrantedBy != auth.ScopeRead {
		t.Fatalf("the granted read's row %+v, want 200 by project:read", r)
	}
}

func TestAccess_200CarriesValidatorsAnd304AndHEADAreAudited(t *testing.T) {
	s, iss, audit := securedServer(t)
	h := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h)
	etag := res.Header.Get("ETag")
	if res.Status != http.StatusOK || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("got %d ETag %q, want 200 with a strong ETag", res.Status, etag)
	}
	if cc, vary := res.Header.Get("Cache-Control"), res.Header.Get("Vary"); cc != "private, no-cache" || vary != "Authorization" {
		t.Fatalf("Cache-Control %q Vary %q", cc, vary)
	}
	other := servicetest.Do(t, http.MethodGet, s.URL+"/project/1?reports=1", h)
	if other.Header.Get("ETag") == etag {
		t.Fatal("?reports=1 and ?reports=10 share an ETag")
	}

	for _, inm := range []string{etag, `W/` + etag, `"other", ` + etag, "*"} {
		h2 := h.Clone()
		h2.Set("If-None-Match", inm)
		nm := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h2)
		if nm.Status != http.StatusNotModified || nm.Body != "" || nm.Header.Get("ETag") != etag {
			t.Fatalf("If-None-Match %s: %d %q ETag %q, want 304, no body, the same ETag", inm, nm.Status, nm.Body, nm.Header.Get("ETag"))
		}
	}
	h3 := h.Clone()
	h3.Set("If-None-Match", `"stale"`)
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h3); res.Status != http.StatusOK || res.Body == "" {
		t.Fatalf("a stale If-None-Match: %d, want 200 with the record", res.Status)
	}

	head := servicetest.Do(t, http.MethodHead, s.URL+"/project/1", h)
	if head.Status != http.StatusOK || head.Body != "" || head.Header.Get("ETag") != etag ||
		head.Header.Get("Content-Length") != res.Header.Get("Content-Length") {
		t.Fatalf("HEAD: %d body %q ETag %q length %q; GET: ETag %q length %q", head.Status, head.Body,
			head.Header.Get("ETag"), head.Header.Get("Content-Length"), etag, res.Header.Get("Content-Length"))
	}
	if res := servicetest.Do(t, http.MethodHead, s.URL+"/project/1", nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("HEAD without a token: %d, want 401", res.Status)
	}

	var statuses []uint64
	var methods []string
	for _, r := range audit.Take() {
		statuses = append(statuses, r.Status)
		methods = append(methods, r.Method)
	}
	want := []uint64{200, 200, 304, 304, 304, 304, 200, 200}
	if len(statuses) != len(want) {
		t.Fatalf("audit statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("audit statuses %v, want %v", statuses, want)
		}
	}
	if methods[len(methods)-1] != http.MethodHead {
		t.Fatalf("the HEAD is audited as %s", methods[len(methods)-1])
	}
}

func TestAccess_FailsClosedWhenTheAuditRowCannotBeWritten(t *testing.T) {
	s, iss, audit := securedServer(t)
	h := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
	audit.FailWith(errors.New("Error 1142 (42000): INSERT command denied to user"))
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h)
	if res.Status != http.StatusServiceUnavailable || servicetest.ErrorCode(t, res.Body) != "unavailable" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s, want 503 unavailable with Retry-After", res.Status, res.Body)
	}
	if strings.Contains(res.Body, "CTP-") || res.Header.Get("ETag") != "" {
		t.Fatalf("the record (or its ETag) left without its audit row: %v %s", res.Header, res.Body)
	}
	audit.FailWith(nil)
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h); res.Status != http.StatusOK {
		t.Fatalf("audit trail back: %d, want 200", res.Status)
	}
}

func TestAccess_ProbesNeedNoToken(t *testing.T) {
	s, _, audit := securedServer(t)
	if res := servicetest.Get(t, s.URL+"/healthz"); res.Status != http.StatusOK {
		t.Fatalf("/healthz without a token: %d", res.Status)
	}
	// Ready or not (a fake database never answers a ping), never a 401.
	if res := servicetest.Get(t, s.URL+"/readyz"); res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden {
		t.Fatalf("/readyz without a token: %d %s", res.Status, res.Body)
	}
	if rows := audit.Take(); len(rows) != 0 {
		t.Fatalf("probes left audit rows: %+v", rows)
	}
}
