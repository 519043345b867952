package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
)

// front is an identity provider as the verifier sees it: a discovery
// document the test writes, and the key set of a real issuer behind it.
// It counts the requests for each.
type front struct {
	*httptest.Server
	iss *oidctest.Issuer

	mu        sync.Mutex
	status    int            // discovery's status (0: 200)
	doc       map[string]any // nil: {issuer: the front's URL, jwks_uri: its /keys}
	raw       string         // when set, the discovery body as is
	discovery atomic.Int64
	keys      atomic.Int64
}

func newFront(t *testing.T, iss *oidctest.Issuer) *front {
	t.Helper()
	f := &front{iss: iss}
	jwksURL := discoveredKeysURL(t, iss)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discovery.Add(1)
		f.mu.Lock()
		status, doc, raw := f.status, f.doc, f.raw
		f.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if raw != "" {
			_, _ = io.WriteString(w, raw)
			return
		}
		if doc == nil {
			doc = map[string]any{"issuer": f.URL, "jwks_uri": f.URL + "/keys"}
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		f.keys.Add(1)
		res, err := http.Get(jwksURL)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, res.Body)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *front) serve(status int, doc map[string]any, raw string) {
	f.mu.Lock()
	f.status, f.doc, f.raw = status, doc, raw
	f.mu.Unlock()
}

// discoveredKeysURL is the issuer's jwks_uri.
func discoveredKeysURL(t *testing.T, iss *oidctest.Issuer) string {
	t.Helper()
	res, err := http.Get(iss.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		JwksURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || doc.JwksURI == "" {
		t.Fatalf("the issuer's discovery: %v %+v", err, doc)
	}
	return doc.JwksURI
}

// token is a token of the real issuer's key naming the front as issuer.
func (f *front) token(subject string) string {
	c := f.iss.Claims(subject, auth.ScopeReadAll)
	c["iss"] = f.URL
	return f.iss.Sign(c)
}

func (f *front) conf() config.AuthConf {
	return config.AuthConf{Issuer: f.URL, Audience: oidctest.Audience, RequireClient: true}
}

// TestVerify_DiscoveryMustNameThisIssuerAndASecureKeySet: the keys are
// loaded only from a discovery document that answers 200, names the
// configured issuer and a key set reachable securely; otherwise no token
// can be checked (503), however long the verifier waits.
func TestVerify_DiscoveryMustNameThisIssuerAndASecureKeySet(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	for _, tc := range []struct {
		name   string
		status int
		doc    func(f *front) map[string]any
		raw    string
	}{
		{name: "anotherIssuer", doc: func(f *front) map[string]any {
			return map[string]any{"issuer": "https://idp.example.com", "jwks_uri": f.URL + "/keys"}
		}},
		{name: "noKeySet", doc: func(f *front) map[string]any { return map[string]any{"issuer": f.URL} }},
		{name: "keySetOverPlainHTTP", doc: func(f *front) map[string]any {
			return map[string]any{"issuer": f.URL, "jwks_uri": "http://idp.example.com/keys"}
		}},
		{name: "notFound", status: http.StatusNotFound},
		{name: "serverError", status: http.StatusInternalServerError},
		{name: "notJSON", raw: "<html>login</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFront(t, iss)
			var doc map[string]any
			if tc.doc != nil {
				doc = tc.doc(f)
			}
			f.serve(tc.status, doc, tc.raw)
			v := auth.NewVerifierWithin(f.conf(), 300*time.Millisecond)
			t.Cleanup(v.Close)
			if v.Ready() || f.discovery.Load() == 0 {
				t.Fatalf("ready %v after %d discovery requests: want the document read and refused", v.Ready(), f.discovery.Load())
			}
			if _, err := v.Verify(context.Background(), f.token("x")); err != auth.ErrKeysUnavailable {
				t.Fatalf("Verify: %v, want ErrKeysUnavailable", err)
			}
			if n := f.keys.Load(); n != 0 {
				t.Fatalf("the key set was fetched %d times from a refused discovery", n)
			}
		})
	}
	t.Run("accepted", func(t *testing.T) {
		t.Parallel()
		f := newFront(t, iss)
		v := auth.NewVerifierWithin(f.conf(), 5*time.Second)
		t.Cleanup(v.Close)
		if !v.Ready() {
			t.Fatal("not ready with a good discovery document")
		}
		if _, err := v.Verify(context.Background(), f.token("x")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestVerify_AFailingFirstLoadIsRetriedWithBackoff: while the provider
// fails, discovery is asked again after 1 s, then 2 s, ... — not in a
// loop — and the keys load once it answers.
func TestVerify_AFailingFirstLoadIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, platformAll)
	f := newFront(t, iss)
	f.serve(http.StatusServiceUnavailable, nil, "")
	v := auth.NewVerifierWithin(f.conf(), 0)
	t.Cleanup(v.Close)
	time.Sleep(1500 * time.Millisecond) // attempts at 0 s and 1 s; the next is due at 3 s
	if n := f.discovery.Load(); n < 1 || n > 2 {
		t.Fatalf("%d discovery requests in 1.5 s of failures, want 2 (at 0 s and after 1 s of backoff), not a loop", n)
	}
	f.serve(0, nil, "")
	deadline := time.Now().Add(5 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the keys did not load once the provider answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := f.discovery.Load(); n > 3 {
		t.Fatalf("%d discovery requests, want 3 (the third, at 3 s, succeeds)", n)
	}
}

// TestVerify_UnknownKeyIDsRefreshTheKeySetAtMostOnceInTenSeconds: tokens
// naming keys the issuer does not publish make the key set be fetched
// again once, not once each, and are refused at once.
func TestVerify_UnknownKeyIDsRefreshTheKeySetAtMostOnceInTenSeconds(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, platformAll)
	f := newFront(t, iss)
	v := auth.NewVerifierWithin(f.conf(), 5*time.Second)
	t.Cleanup(v.Close)
	if !v.Ready() || f.keys.Load() != 1 {
		t.Fatalf("ready %v after %d key set fetches, want ready after 1", v.Ready(), f.keys.Load())
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		c := iss.Claims("made-up", auth.ScopeReadAll)
		c["iss"] = f.URL
		start := time.Now()
		_, err := v.Verify(context.Background(), oidctest.SignWith(jwt.SigningMethodRS256, other, "made-up-"+string(rune('a'+i)), c))
		if refusalCode(err) == "" {
			t.Fatalf("token %d of an unpublished key: %v, want a refusal", i, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("token %d of an unpublished key took %s to refuse, want at most the 2 s wait for a refresh", i, took)
		}
	}
	if n := f.keys.Load(); n != 2 {
		t.Fatalf("the key set was fetched %d times for 5 unknown key ids, want 2 (the load, one refresh)", n)
	}
	if _, err := v.Verify(context.Background(), f.token("known")); err != nil {
		t.Fatalf("a token of a published key after the flood: %v", err)
	}
}

// TestVerify_ATokenUpToSixteenKiBIsRead: longer ones are refused unread.
func TestVerify_ATokenUpToSixteenKiBIsRead(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	c := iss.Claims("padded", auth.ScopeReadAll)
	token := iss.Sign(c)
	c["pad"] = strings.Repeat("p", 16<<10-len(token)) // about 4/3 of it once encoded: too long
	long := iss.Sign(c)
	if len(long) <= 16<<10 {
		t.Fatalf("the padded token is %d bytes, want it over 16 KiB", len(long))
	}
	if _, err := v.Verify(context.Background(), long); refusalCode(err) != "too_large" {
		t.Fatalf("a %d-byte token: %v, want too_large", len(long), err)
	}
	// Exactly at the bound: read (and then refused for what it is, not its size).
	exact := strings.Repeat("a", 16<<10)
	if _, err := v.Verify(context.Background(), exact); refusalCode(err) != "malformed" {
		t.Fatalf("a 16 KiB token: %v, want it read (malformed), not refused for its size", err)
	}
	if _, err := v.Verify(context.Background(), exact+"a"); refusalCode(err) != "too_large" {
		t.Fatalf("a token one byte over 16 KiB: %v, want too_large", err)
	}
}

// TestVerify_ARefusedGrantQuotesTheClaimBoundedOnARuneBoundary: the reason
// quotes at most 24 bytes of the offending value, never half a character.
func TestVerify_ARefusedGrantQuotesTheClaimBoundedOnARuneBoundary(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	const suffix = ", which is not a project id (a positive integer)"
	for _, tc := range []struct {
		name   string
		value  string
		quoted string
	}{
		{"fits", strings.Repeat("a", 22), `"` + strings.Repeat("a", 22) + `"`},           // 24 bytes with its quotes
		{"oneOver", strings.Repeat("a", 23), `"` + strings.Repeat("a", 23) + `...`},      // 25: cut to 24
		{"twoByteRunes", strings.Repeat("é", 20), `"` + strings.Repeat("é", 11) + `...`}, // byte 24 is inside an é
		{"threeByteRunes", strings.Repeat("€", 10), `"` + strings.Repeat("€", 7) + `...`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := iss.Claims("quote-"+tc.name, auth.ScopeRead)
			c["project_ids"] = []string{tc.value}
			p, err := v.Verify(context.Background(), iss.Sign(c))
			if err != nil {
				t.Fatal(err)
			}
			if want := "project_ids holds " + tc.quoted + suffix; p.GrantRefused != want {
				t.Fatalf("reason %q, want %q", p.GrantRefused, want)
			}
		})
	}
}

// TestVerify_NotBeforeIsOptionalAndBoundsTheCachedToken: a token without
// nbf verifies; one with nbf is served from the cache only from nbf (less
// the leeway) on — a clock set back before it verifies it again, and
// refuses it.
func TestVerify_NotBeforeIsOptionalAndBoundsTheCachedToken(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	at := time.Now().Truncate(time.Second)
	var now atomic.Pointer[time.Time]
	now.Store(&at)
	v := newVerifier(t, iss, auth.WithClock(func() time.Time { return *now.Load() }))
	without := iss.Claims("no-nbf", auth.ScopeReadAll)
	delete(without, "nbf")
	if _, err := v.Verify(context.Background(), iss.Sign(without)); err != nil {
		t.Fatalf("a token without nbf: %v, want it verified", err)
	}
	c := iss.Claims("nbf", auth.ScopeReadAll)
	c["iat"], c["nbf"] = jwt.NewNumericDate(at), jwt.NewNumericDate(at)
	token := iss.Sign(c)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	back := at.Add(-auth.Leeway - time.Second)
	now.Store(&back)
	if _, err := v.Verify(context.Background(), token); refusalCode(err) != "not_yet_valid" {
		t.Fatalf("the cached token before its nbf (less the leeway): %v, want not_yet_valid", err)
	}
}

// TestVerify_AnIdentityOf255CharactersFitsTheAuditTrail: subject and client
// id up to the audit trail's 255 characters (not bytes) are accepted.
func TestVerify_AnIdentityOf255CharactersFitsTheAuditTrail(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	c := iss.Claims(strings.Repeat("s", 255), auth.ScopeReadAll)
	c["azp"] = strings.Repeat("é", 255)
	p, err := v.Verify(context.Background(), iss.Sign(c))
	if err != nil || len([]rune(p.Subject)) != 255 || len([]rune(p.ClientID)) != 255 {
		t.Fatalf("255-character subject and client id: %+v, %v: want both accepted whole", p, err)
	}
}
