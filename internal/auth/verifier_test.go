package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// The platforms of the tests: one reads everything, one reads projects 3
// and 7, one has no project scope.
var (
	platformAll = oidctest.Client{ID: "platform-all", Secret: "s3cret-all", Scopes: []string{auth.ScopeReadAll}}
	platformTwo = oidctest.Client{ID: "platform-two", Secret: "s3cret-two", Subject: "svc-two",
		Scopes: []string{auth.ScopeRead}, ProjectIDs: []uint64{7, 3}}
	platformNone = oidctest.Client{ID: "platform-none", Secret: "s3cret-none", Scopes: []string{"openid"}}
)

// authConf is the Auth section a loaded config has for iss (the defaults).
func authConf(iss *oidctest.Issuer) config.AuthConf {
	return config.AuthConf{Issuer: iss.URL, Audience: oidctest.Audience, RequireClient: true,
		KeyRefresh: config.DefaultKeyRefresh, MaxTokenLifetime: config.DefaultMaxTokenLifetime}
}

func newVerifier(t *testing.T, iss *oidctest.Issuer, opts ...auth.Option) *auth.Verifier {
	t.Helper()
	return newVerifierWith(t, authConf(iss), opts...)
}

func newVerifierWith(t *testing.T, c config.AuthConf, opts ...auth.Option) *auth.Verifier {
	t.Helper()
	v := auth.NewVerifier(c, opts...)
	t.Cleanup(v.Close)
	if !v.Ready() {
		t.Fatal("the verifier did not load the issuer's keys at start")
	}
	return v
}

func TestVerify_TokensFromTheTokenEndpoint(t *testing.T) {
	iss := oidctest.Start(t, platformAll, platformTwo, platformNone)
	v := newVerifier(t, iss)
	ctx := context.Background()

	p, err := v.Verify(ctx, iss.MustToken(t, platformAll.ID, platformAll.Secret, auth.ScopeReadAll))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "platform-all" || p.ClientID != "platform-all" || !p.ReadAll || p.Grant(12345) != auth.ScopeReadAll {
		t.Fatalf("read-all principal: %+v", p)
	}

	p, err = v.Verify(ctx, iss.MustToken(t, platformTwo.ID, platformTwo.Secret, auth.ScopeRead))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "svc-two" || p.ClientID != "platform-two" || p.ReadAll || !p.Read || !slices.Equal(p.Projects, []uint64{3, 7}) {
		t.Fatalf("read principal: %+v", p)
	}
	if p.Grant(7) != auth.ScopeRead || p.Grant(3) != auth.ScopeRead || p.CanRead(5) {
		t.Fatalf("grants of projects 3 and 7: 7=%q 3=%q 5=%v", p.Grant(7), p.Grant(3), p.CanRead(5))
	}

	p, err = v.Verify(ctx, iss.MustToken(t, platformNone.ID, platformNone.Secret, "openid"))
	if err != nil {
		t.Fatal(err)
	}
	if p.HasProjectScope() || p.CanRead(1) {
		t.Fatalf("a token without a project scope grants %+v", p)
	}
}

func TestVerify_RefusesEveryInvalidToken(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	now := time.Now()
	valid := func() jwt.MapClaims { return iss.Claims("forged", auth.ScopeReadAll) }
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims { c := valid(); edit(c); return c }

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(iss.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	for _, tc := range []struct{ name, token, code string }{
		{"garbage", "not-a-jwt", "malformed"},
		{"garbageThreeParts", "a.b.c", "malformed"},
		{"expired", iss.Sign(with(func(c jwt.MapClaims) { c["exp"] = jwt.NewNumericDate(now.Add(-2 * auth.Leeway)) })), "expired"},
		{"notYetValid", iss.Sign(with(func(c jwt.MapClaims) { c["nbf"] = jwt.NewNumericDate(now.Add(2 * auth.Leeway)) })), "not_yet_valid"},
		{"issuedInTheFuture", iss.Sign(with(func(c jwt.MapClaims) { c["iat"] = jwt.NewNumericDate(now.Add(2 * auth.Leeway)) })), "issued_in_future"},
		{"noExp", iss.Sign(with(func(c jwt.MapClaims) { delete(c, "exp") })), "no_expiry"},
		{"wrongAudience", iss.Sign(with(func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} })), "wrong_audience"},
		{"noAudience", iss.Sign(with(func(c jwt.MapClaims) { delete(c, "aud") })), "wrong_audience"},
		{"wrongIssuer", iss.Sign(with(func(c jwt.MapClaims) { c["iss"] = "https://idp.example.com" })), "wrong_issuer"},
		{"noSubject", iss.Sign(with(func(c jwt.MapClaims) { delete(c, "sub") })), "no_subject"},
		{"algNone", oidctest.SignWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid()), "bad_signature"},
		{"hs256WithThePublicKey", oidctest.SignWith(jwt.SigningMethodHS256, pubPEM, "", valid()), "bad_signature"},
		{"unknownKey", oidctest.SignWith(jwt.SigningMethodRS256, otherKey, "not-published", valid()), "unknown_key"},
		{"knownKidOtherKey", oidctest.SignWith(jwt.SigningMethodRS256, otherKey, kidOf(t, iss), valid()), "bad_signature"},
		{"tamperedPayload", tamper(iss.Sign(valid())), "bad_signature"},
		{"idTokenAtHash", iss.Sign(with(func(c jwt.MapClaims) { c["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ" })), "id_token"},
		{"idTokenCHash", iss.Sign(with(func(c jwt.MapClaims) { c["c_hash"] = "LDktKdoQak3Pk0cnXxCltA" })), "id_token"},
		{"keycloakIDToken", iss.Sign(with(func(c jwt.MapClaims) { c["typ"] = "ID" })), "id_token"},
		{"keycloakRefreshToken", iss.Sign(with(func(c jwt.MapClaims) { c["typ"] = "Refresh" })), "refresh_token"},
		{"noClient", iss.Sign(with(func(c jwt.MapClaims) { delete(c, "client_id") })), "no_client"},
		{"subjectTooLong", iss.Sign(with(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("s", 256) })), "identity_too_long"},
		{"clientTooLong", iss.Sign(with(func(c jwt.MapClaims) { c["azp"] = strings.Repeat("é", 256) })), "identity_too_long"},
		{"livesACentury", iss.Sign(with(func(c jwt.MapClaims) { c["exp"] = jwt.NewNumericDate(now.AddDate(100, 0, 0)) })), "lifetime_too_long"},
		{"lives25h", iss.Sign(with(func(c jwt.MapClaims) { c["exp"] = jwt.NewNumericDate(now.Add(25 * time.Hour)) })), "lifetime_too_long"},
		{"lives25hNoIat", iss.Sign(with(func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = jwt.NewNumericDate(now.Add(25 * time.Hour)) })), "lifetime_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tc.token)
			var r *auth.Refusal
			if !errors.As(err, &r) {
				t.Fatalf("got principal %+v, err %v; want a refusal", p, err)
			}
			if r.Code != tc.code || !r.TokenSent {
				t.Fatalf("refusal %+v, want code %s", r, tc.code)
			}
		})
	}
}

func TestVerify_ScopesFromScopeScpOrRoles(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	for _, tc := range []struct {
		name  string
		claim string
		value any
		all   bool
		read  bool
	}{
		{"scopeString", "scope", "openid project:read:all", true, false},
		{"scpArray", "scp", []string{"project:read"}, false, true},
		{"scpString", "scp", "profile project:read", false, true},
		{"rolesArray", "roles", []string{"project:read:all"}, true, false},
		{"otherScopesOnly", "scope", "openid profile project:write", false, false},
		{"nearMiss", "scope", "project:read:al project:reads", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := iss.Claims("svc", "")
			delete(c, "scope")
			c["project_ids"] = []int{}
			c[tc.claim] = tc.value
			p, err := v.Verify(context.Background(), iss.Sign(c))
			if err != nil {
				t.Fatal(err)
			}
			if p.ReadAll != tc.all || p.Read != tc.read {
				t.Fatalf("%s=%v: ReadAll %v Read %v, want %v %v", tc.claim, tc.value, p.ReadAll, p.Read, tc.all, tc.read)
			}
		})
	}
}

func TestVerify_KeyRotationAndIssuerOutage(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	ctx := context.Background()

	before := iss.Sign(iss.Claims("before-rotation", auth.ScopeReadAll))
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	// Signed with a key published after the service loaded the key set: the
	// unknown kid makes the verifier fetch the set again.
	rotated := iss.MustToken(t, platformAll.ID, platformAll.Secret, auth.ScopeReadAll)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("token signed with the rotated-in key: %v", err)
	}
	// The issuer goes down. Tokens signed by keys the service holds still
	// verify — including ones it has never seen (not from its cache).
	iss.Stop()
	if _, err := v.Verify(ctx, before); err != nil {
		t.Fatalf("old key, issuer down: %v", err)
	}
	fresh := iss.Sign(iss.Claims("never-seen", auth.ScopeReadAll))
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatalf("new token by a held key, issuer down: %v", err)
	}
	if !v.Ready() {
		t.Fatal("the verifier stopped being ready when the issuer went down")
	}
}

func TestVerify_StartsWithoutTheIssuerAndLoadsItsKeysLater(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	addr := iss.URL[len("http://"):]
	iss.Stop() // nothing answers on the issuer's address now
	v := auth.NewVerifierWithin(config.AuthConf{Issuer: iss.URL, Audience: oidctest.Audience}, 100*time.Millisecond)
	t.Cleanup(v.Close)
	if v.Ready() {
		t.Fatal("ready without keys")
	}
	if _, err := v.Verify(context.Background(), "a.b.c"); !errors.Is(err, auth.ErrKeysUnavailable) {
		t.Fatalf("err = %v, want ErrKeysUnavailable (a 503, not the caller's fault)", err)
	}
	back, err := oidctest.Listen(addr, platformAll)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(back.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the keys were not loaded within 10 s of the issuer coming up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), back.MustToken(t, platformAll.ID, platformAll.Secret, auth.ScopeReadAll)); err != nil {
		t.Fatal(err)
	}
}

// kidOf is the kid of the issuer's current key.
func kidOf(t *testing.T, iss *oidctest.Issuer) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(iss.Sign(iss.Claims("x", "")), jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Header["kid"].(string)
}

// tamper flips one character of a token's payload.
func tamper(token string) string {
	b := []byte(token)
	for i := len(b) / 2; i < len(b); i++ {
		if b[i] != '.' && b[i] != 'A' {
			b[i] = 'A'
			break
		}
	}
	return string(b)
}
