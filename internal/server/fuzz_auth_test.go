package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// FuzzAuthorization sends GET /project/1 with any Authorization header
// through the real stack with authentication on (a real OpenID Provider,
// fake models and audit table) and checks the access contract: never a
// 5xx, and a 200 (the record) only for a token the provider issued; a
// refusal is 401 with a Bearer challenge, 403, or the 404 of a project
// outside the grant, each with a JSON error body.
//
// The seeds include tokens issued in this run (valid, no scope, granting
// another project) and forged ones, so the fuzzer mutates real tokens.
//
// Run: go test -run='^$' -fuzz=FuzzAuthorization -fuzztime=60s ./internal/server/
func FuzzAuthorization(f *testing.F) {
	iss := oidctest.Start(f, readsAll, readsOne, noProjects)
	valid := map[string]bool{}
	issue := func(c oidctest.Client, scope string) string {
		tok := iss.MustToken(f, c.ID, c.Secret, scope)
		valid[tok] = true
		return tok
	}
	all, one := issue(readsAll, auth.ScopeReadAll), issue(readsOne, auth.ScopeRead)
	issue(noProjects, "openid")
	expired := iss.Claims("x", auth.ScopeReadAll)
	expired["exp"] = 1
	for _, seed := range []string{
		"Bearer " + all, "bearer " + all, "Bearer  " + all, "Bearer " + all + " ", "Bearer " + one,
		"Bearer " + iss.Sign(expired),
		"Bearer " + oidctest.SignWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", iss.Claims("x", auth.ScopeReadAll)),
		"Bearer " + strings.TrimSuffix(all, all[len(all)-4:]),
		"Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "", "Bearer a.b.c", "Bearer ...", "Bearer e30.e30.", "Bearer \x00",
	} {
		f.Add(seed)
	}

	c := servicetest.Config(f, servicetest.NoDatabase, servicetest.Issuer(iss.URL), "CpuThreshold: 0", "Timeout: 10000")
	m := seeded()
	audit := &auditLog{}
	s, err := svc.NewServiceContext(c, svc.WithModels(func(s *svc.ServiceContext) {
		m.install(s)
		s.AccessAuditModel = fakes.AccessAudit(audit.insert)
	}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	serve := servicetest.Handler(f, s)

	f.Fuzz(func(t *testing.T, authorization string) {
		req := httptest.NewRequest(http.MethodGet, "/project/2", nil)
		req.Header["Authorization"] = []string{authorization}
		rec := httptest.NewRecorder()
		serve(rec, req)
		_ = audit.take()

		scheme, token, _ := strings.Cut(authorization, " ")
		issued := strings.EqualFold(scheme, "Bearer") && valid[strings.TrimSpace(token)]
		switch status := rec.Code; {
		case status == http.StatusOK:
			if !issued {
				t.Fatalf("Authorization %q: 200 without a token the provider issued", authorization)
			}
		case status == http.StatusUnauthorized:
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), `Bearer realm="project-api"`) {
				t.Fatalf("Authorization %q: 401 without the Bearer challenge", authorization)
			}
		case status == http.StatusForbidden, status == http.StatusNotFound:
			if !issued {
				t.Fatalf("Authorization %q: %d, but only an issued token gets past authentication", authorization, status)
			}
		default:
			t.Fatalf("Authorization %q: status %d, want 200, 401, 403 or 404", authorization, status)
		}
		if rec.Code != http.StatusOK {
			var e struct{ Code, Message string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("Authorization %q: %d with body %q, want a JSON error", authorization, rec.Code, rec.Body)
			}
		}
	})
}
