package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/middleware"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"

	"github.com/zeromicro/go-zero/rest/httpx"
)

func TestMain(m *testing.M) {
	httpx.SetErrorHandlerCtx(errs.Handle) // as server.New does
	leakcheck.Main(m)
}

var (
	readsAll  = oidctest.Client{ID: "reads-all", Secret: "s1", Scopes: []string{auth.ScopeReadAll}}
	readsSome = oidctest.Client{ID: "reads-some", Secret: "s2", Scopes: []string{auth.ScopeRead}, ProjectIDs: []uint64{3}}
	noScope   = oidctest.Client{ID: "no-scope", Secret: "s3", Scopes: []string{"openid"}}
)

func verifier(t *testing.T, iss *oidctest.Issuer) *auth.Verifier {
	t.Helper()
	v := auth.NewVerifier(config.AuthConf{Issuer: iss.URL, Audience: oidctest.Audience, RequireClient: true})
	t.Cleanup(v.Close)
	return v
}

// behindAuth runs Auth over a handler that reports the caller it sees.
func behindAuth(v *auth.Verifier, r *http.Request) (*httptest.ResponseRecorder, *auth.Principal) {
	var seen *auth.Principal
	h := middleware.NewAuthMiddleware(v).Handle(func(w http.ResponseWriter, r *http.Request) {
		seen = auth.From(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	h(rec, r)
	return rec, seen
}

func TestAuth_RefusalsCarryExactlyTheirChallenge(t *testing.T) {
	iss := oidctest.Start(t, readsAll)
	v := verifier(t, iss)
	expired := iss.Claims("x", auth.ScopeReadAll)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	const noToken = `Bearer realm="project-api"`
	for _, tc := range []struct {
		name, authorization, challenge string
		twice                          bool
	}{
		// RFC 6750 §3.1: no error= when the request carried no token.
		{"noHeader", "", noToken, false},
		{"otherScheme", "Basic dXNlcjpwYXNz", noToken, false},
		{"emptyBearer", "Bearer ", noToken + `, error="invalid_token", error_description="the token is malformed"`, false},
		{"garbage", "Bearer garbage", noToken + `, error="invalid_token", error_description="the token is malformed"`, false},
		{"twoHeaders", "Bearer a.b.c", noToken + `, error="invalid_token", error_description="the token is malformed"`, true},
		{"expired", "Bearer " + iss.Sign(expired), noToken + `, error="invalid_token", error_description="the token has expired"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/project/1", nil)
			if tc.authorization != "" {
				r.Header.Add("Authorization", tc.authorization)
			}
			if tc.twice {
				r.Header.Add("Authorization", tc.authorization)
			}
			rec, seen := behindAuth(v, r)
			if rec.Code != http.StatusUnauthorized || seen != nil {
				t.Fatalf("status %d, caller %v: want 401 before the handler", rec.Code, seen)
			}
			if got := rec.Header().Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want exactly %q", got, tc.challenge)
			}
			if code := servicetest.ErrorCode(t, rec.Body.String()); code != "unauthenticated" {
				t.Fatalf("code %q", code)
			}
		})
	}
}

func TestAuth_NoProjectScopeIs403WithTheReason(t *testing.T) {
	iss := oidctest.Start(t, readsAll, noScope)
	v := verifier(t, iss)
	for _, tc := range []struct {
		name, token, mentions string
	}{
		{"noScope", iss.MustToken(t, noScope.ID, noScope.Secret, "openid"), "needs scope"},
		{"readWithoutIDs", iss.Sign(iss.Claims("s", auth.ScopeRead)), "no project_ids claim"},
		{"readWithBadIDs", func() string {
			c := iss.Claims("s", auth.ScopeRead)
			c["project_ids"] = []string{"seven"}
			return iss.Sign(c)
		}(), `"seven"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/project/1", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			rec, seen := behindAuth(v, r)
			if rec.Code != http.StatusForbidden || seen != nil {
				t.Fatalf("status %d, caller %v: want 403 before the handler", rec.Code, seen)
			}
			code, message := servicetest.ErrorBody(t, rec.Body.String())
			if code != "permission_denied" || !strings.Contains(message, tc.mentions) {
				t.Fatalf("body %s, want permission_denied mentioning %q", rec.Body, tc.mentions)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="project-api", error="insufficient_scope", scope="project:read project:read:all"` {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		})
	}
}

func TestAuth_AVerifiedCallerReachesTheHandler(t *testing.T) {
	iss := oidctest.Start(t, readsAll, readsSome)
	v := verifier(t, iss)
	r := httptest.NewRequest(http.MethodGet, "/project/1", nil)
	r.Header.Set("Authorization", "bearer "+iss.MustToken(t, readsSome.ID, readsSome.Secret, auth.ScopeRead)) // the scheme is case-insensitive
	rec, seen := behindAuth(v, r)
	if rec.Code != http.StatusNoContent || seen == nil || seen.Subject != "reads-some" || !seen.CanRead(3) || seen.CanRead(1) {
		t.Fatalf("status %d, caller %+v: want the handler with reads-some's grant of project 3", rec.Code, seen)
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("a challenge on an accepted request")
	}
}

func TestAuth_503WhileTheIssuersKeysAreNotLoaded(t *testing.T) {
	iss := oidctest.Start(t, readsAll)
	token := iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll)
	iss.Stop()
	v := auth.NewVerifierWithin(config.AuthConf{Issuer: iss.URL, Audience: oidctest.Audience}, time.Millisecond)
	t.Cleanup(v.Close)
	r := httptest.NewRequest(http.MethodGet, "/project/1", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rec, seen := behindAuth(v, r)
	if rec.Code != http.StatusServiceUnavailable || seen != nil || servicetest.ErrorCode(t, rec.Body.String()) != "unavailable" {
		t.Fatalf("status %d %s: want 503 unavailable (the service's problem, not the caller's)", rec.Code, rec.Body)
	}
}

func TestAuth_DisabledAttachesTheAnonymousCaller(t *testing.T) {
	rec, seen := behindAuth(nil, httptest.NewRequest(http.MethodGet, "/project/1", nil))
	if rec.Code != http.StatusNoContent || seen != auth.Anonymous {
		t.Fatalf("status %d caller %v, want the handler with auth.Anonymous", rec.Code, seen)
	}
}
