package auth_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
)

// refusalCode is the code of err's refusal, or "" if it is none.
func refusalCode(err error) string {
	var r *auth.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// TestVerify_LeewayBoundsWithAFakeClock: 59 s of clock skew are forgiven
// on exp, nbf and iat, 61 s are not, and the refusal names the claim.
func TestVerify_LeewayBoundsWithAFakeClock(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := newVerifier(t, iss, auth.WithClock(func() time.Time { return at }))
	for _, tc := range []struct {
		name  string
		claim string
		at    time.Time
		want  string // "" accepted
	}{
		{"expired59sAgo", "exp", at.Add(-59 * time.Second), ""},
		{"expired61sAgo", "exp", at.Add(-61 * time.Second), "expired"},
		{"validIn59s", "nbf", at.Add(59 * time.Second), ""},
		{"validIn61s", "nbf", at.Add(61 * time.Second), "not_yet_valid"},
		{"issued59sAhead", "iat", at.Add(59 * time.Second), ""},
		{"issued61sAhead", "iat", at.Add(61 * time.Second), "issued_in_future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := iss.Claims("skewed-"+tc.name, auth.ScopeReadAll)
			c["iat"], c["nbf"], c["exp"] = jwt.NewNumericDate(at.Add(-time.Minute)), jwt.NewNumericDate(at.Add(-time.Minute)), jwt.NewNumericDate(at.Add(time.Hour))
			c[tc.claim] = jwt.NewNumericDate(tc.at)
			_, err := v.Verify(context.Background(), iss.Sign(c))
			if got := refusalCode(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("err = %v (refusal %q), want refusal %q", err, got, tc.want)
			}
		})
	}
}

// TestVerify_ALifetimeBeyondTheCapIsRefused: exp - iat (or exp - now
// without iat) above Auth.MaxTokenLifetime is refused; at it, accepted.
func TestVerify_ALifetimeBeyondTheCapIsRefused(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := authConf(iss)
	c.MaxTokenLifetime = time.Hour
	v := newVerifierWith(t, c, auth.WithClock(func() time.Time { return at }))
	for _, tc := range []struct {
		name     string
		iat, exp time.Time
		want     string
	}{
		{"exactlyTheCap", at, at.Add(time.Hour), ""},
		{"aSecondOver", at, at.Add(time.Hour + time.Second), "lifetime_too_long"},
		{"oldIatShortRemainder", at.Add(-2 * time.Hour), at.Add(time.Minute), "lifetime_too_long"},
		{"noIatWithinTheCap", time.Time{}, at.Add(59 * time.Minute), ""},
		{"noIatBeyondTheCap", time.Time{}, at.Add(61 * time.Minute), "lifetime_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims := iss.Claims("lifetime-"+tc.name, auth.ScopeReadAll)
			claims["nbf"] = jwt.NewNumericDate(at.Add(-time.Minute))
			claims["exp"] = jwt.NewNumericDate(tc.exp)
			if tc.iat.IsZero() {
				delete(claims, "iat")
			} else {
				claims["iat"] = jwt.NewNumericDate(tc.iat)
			}
			_, err := v.Verify(context.Background(), iss.Sign(claims))
			if got := refusalCode(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("err = %v, want refusal %q", err, tc.want)
			}
		})
	}
}

// TestVerify_ProjectIDsInTheShapesProvidersEmit: integers, decimal strings
// and a single value grant those projects; a value that is no id refuses
// the project:read grant with a reason — never the token, and never
// another scope it carries.
func TestVerify_ProjectIDsInTheShapesProvidersEmit(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	grants := []struct {
		name  string
		value any
		want  []uint64
	}{
		{"integers", []int{7, 3}, []uint64{3, 7}},
		{"decimalStrings", []string{"7", "3"}, []uint64{3, 7}},
		{"mixed", []any{7, "3"}, []uint64{3, 7}},
		{"oneInteger", 7, []uint64{7}},
		{"oneString", "7", []uint64{7}},
		{"empty", []int{}, []uint64{}},
	}
	for _, tc := range grants {
		t.Run(tc.name, func(t *testing.T) {
			c := iss.Claims("shapes-"+tc.name, auth.ScopeRead)
			c["project_ids"] = tc.value
			p, err := v.Verify(context.Background(), iss.Sign(c))
			if err != nil {
				t.Fatal(err)
			}
			if !p.Read || p.GrantRefused != "" || !slices.Equal(p.Projects, tc.want) {
				t.Fatalf("principal %+v, want project:read of %v", p, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		value any
	}{
		{"word", []string{"seven"}}, {"fraction", []float64{7.5}}, {"negative", []int{-7}}, {"zero", []int{0}},
		{"object", map[string]int{"id": 7}}, {"bool", true}, {"null", nil}, {"nested", [][]int{{7}}},
		{"tooLarge", "9223372036854775808"}, {"signed", "+7"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			c := iss.Claims("bad-shape-"+tc.name, auth.ScopeRead+" "+auth.ScopeReadAll)
			c["project_ids"] = tc.value
			p, err := v.Verify(context.Background(), iss.Sign(c))
			if err != nil {
				t.Fatalf("the whole token was refused (%v); only the project:read grant may be", err)
			}
			if p.Read || p.GrantRefused == "" || !p.ReadAll || !p.CanRead(12345) {
				t.Fatalf("principal %+v, want the project:read grant refused with a reason, project:read:all kept", p)
			}
		})
	}
	c := iss.Claims("no-ids", auth.ScopeRead)
	p, err := v.Verify(context.Background(), iss.Sign(c))
	if err != nil || p.Read || p.HasProjectScope() || p.GrantRefused == "" {
		t.Fatalf("project:read without project_ids: %+v %v, want no grant, with the reason", p, err)
	}
}

// TestVerify_TheClientComesFromAzpClientIDCidOrAppid, and a token naming
// none is refused unless Auth.RequireClient is off.
func TestVerify_TheClientComesFromAzpClientIDCidOrAppid(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	v := newVerifier(t, iss)
	for _, claim := range []string{"azp", "client_id", "cid", "appid"} {
		c := iss.Claims("client-"+claim, auth.ScopeReadAll)
		delete(c, "client_id")
		c[claim] = "platform-" + claim
		p, err := v.Verify(context.Background(), iss.Sign(c))
		if err != nil || p.ClientID != "platform-"+claim {
			t.Fatalf("%s: %+v %v, want client platform-%s", claim, p, err, claim)
		}
	}
	c := iss.Claims("nobody's", auth.ScopeReadAll)
	delete(c, "client_id")
	token := iss.Sign(c)
	if _, err := v.Verify(context.Background(), token); refusalCode(err) != "no_client" {
		t.Fatalf("no client: %v, want no_client", err)
	}
	loose := authConf(iss)
	loose.RequireClient = false
	if _, err := newVerifierWith(t, loose).Verify(context.Background(), token); err != nil {
		t.Fatalf("no client, Auth.RequireClient off: %v, want accepted", err)
	}
}

// TestVerify_TokenTypeAtJWTRequiresTheHeader: with Auth.TokenType at+jwt a
// token's typ header must say so (RFC 9068); without it, typ is not read.
func TestVerify_TokenTypeAtJWTRequiresTheHeader(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	strict := authConf(iss)
	strict.TokenType = "at+jwt"
	vs, vl := newVerifierWith(t, strict), newVerifier(t, iss)
	for _, tc := range []struct {
		typ      any
		strictOK bool
	}{{"at+jwt", true}, {"application/at+jwt", true}, {"AT+JWT", true}, {"JWT", false}, {nil, false}} {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, iss.Claims("typ", auth.ScopeReadAll))
		if tc.typ == nil {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = tc.typ
		}
		signed := iss.SignToken(tok)
		_, err := vs.Verify(context.Background(), signed)
		if (err == nil) != tc.strictOK || (err != nil && refusalCode(err) != "wrong_type") {
			t.Fatalf("typ %v with at+jwt required: %v, want ok=%v", tc.typ, err, tc.strictOK)
		}
		if _, err := vl.Verify(context.Background(), signed); err != nil {
			t.Fatalf("typ %v, nothing required: %v", tc.typ, err)
		}
	}
}

// TestVerify_AWithdrawnKeyStopsVerifyingWithinOneRefresh: the issuer stops
// publishing a key (the real provider's key set); within one scheduled
// refresh its tokens are refused — one already verified and cached too —
// while tokens of the new key verify.
func TestVerify_AWithdrawnKeyStopsVerifyingWithinOneRefresh(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	c := authConf(iss)
	const refresh = time.Second
	c.KeyRefresh = refresh
	v := newVerifierWith(t, c)
	ctx := context.Background()
	cached := iss.MustToken(t, platformAll.ID, platformAll.Secret, auth.ScopeReadAll)
	uncached := iss.Sign(iss.Claims("never-verified", auth.ScopeReadAll))
	if _, err := v.Verify(ctx, cached); err != nil {
		t.Fatal(err)
	}
	if err := iss.Withdraw(); err != nil {
		t.Fatal(err)
	}
	withdrawn := time.Now()
	var refusedAfter atomic.Int64
	deadline := withdrawn.Add(2*refresh + 2*time.Second)
	for {
		_, err := v.Verify(ctx, cached)
		if err != nil {
			if refusalCode(err) != "revoked_key" {
				t.Fatalf("the cached token's refusal: %v, want revoked_key", err)
			}
			refusedAfter.Store(int64(time.Since(withdrawn)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token of the withdrawn key still verifies %s after the withdrawal (refresh every %s)", time.Since(withdrawn), refresh)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Duration(refusedAfter.Load())
	if took > refresh+time.Second {
		t.Fatalf("refused %s after the withdrawal, want within one refresh (%s) and a fetch", took, refresh)
	}
	t.Logf("a withdrawn key's cached token was refused %s after the withdrawal (Auth.KeyRefresh %s)", took.Round(time.Millisecond), refresh)
	if _, err := v.Verify(ctx, uncached); refusalCode(err) != "unknown_key" {
		t.Fatalf("an uncached token of the withdrawn key: %v, want unknown_key", err)
	}
	if _, err := v.Verify(ctx, iss.MustToken(t, platformAll.ID, platformAll.Secret, auth.ScopeReadAll)); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
}

// TestVerify_ACachedTokenKeepsTheSameLeeway: a token verified once (and
// so cached) is still accepted 59 s after its exp and refused at 61 s,
// as expired: the cache never stretches a token's validity.
func TestVerify_ACachedTokenKeepsTheSameLeeway(t *testing.T) {
	iss := oidctest.Start(t, platformAll)
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&start)
	v := newVerifier(t, iss, auth.WithClock(func() time.Time { return *now.Load() }))
	c := iss.Claims("cached-near-exp", auth.ScopeReadAll)
	exp := start.Add(10 * time.Second)
	c["iat"], c["nbf"], c["exp"] = jwt.NewNumericDate(start.Add(-time.Minute)), jwt.NewNumericDate(start.Add(-time.Minute)), jwt.NewNumericDate(exp)
	token := iss.Sign(c)
	for _, step := range []struct {
		at   time.Time
		want string // "" accepted
	}{
		{start, ""},
		{exp.Add(59 * time.Second), ""},
		{exp.Add(61 * time.Second), "expired"},
	} {
		now.Store(&step.at)
		_, err := v.Verify(context.Background(), token)
		if got := refusalCode(err); got != step.want || (step.want == "" && err != nil) {
			t.Fatalf("at exp%+v: err = %v (refusal %q), want refusal %q", step.at.Sub(exp), err, got, step.want)
		}
	}
}
