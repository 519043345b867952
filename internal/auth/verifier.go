package auth

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/config"
)

const (
	// Leeway is the clock skew allowed on exp, nbf and iat (at most 60 s by contract).
	Leeway = 60 * time.Second
	// maxTokenBytes: longer bearer tokens are refused unread.
	maxTokenBytes = 16 << 10
)

// startWait: NewVerifier waits this long for the first key load, so a
// service starting next to a reachable provider answers its first requests;
// if the provider is down it starts anyway (503 until the keys are loaded).
const startWait = 3 * time.Second

// acceptedAlgorithms are the asymmetric JWS algorithms accepted. "none" and
// the HMAC algorithms are not: an HMAC key is a shared secret (whoever
// verifies can mint), and HS256 "signed" with a public key is the classic
// key-confusion forgery.
var acceptedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Verifier checks bearer access tokens of one issuer and audience.
type Verifier struct {
	keys          *keySource
	parser        *jwt.Parser
	cache         *tokenCache
	now           func() time.Time
	maxLifetime   time.Duration
	tokenType     string
	requireClient bool
	stop          context.CancelFunc
}

// Option changes a Verifier; production uses none.
type Option func(*Verifier)

// WithClock makes the verifier read the time from now (tests of the clock
// skew bounds).
func WithClock(now func() time.Time) Option {
	return func(v *Verifier) { v.now = now }
}

// NewVerifier starts loading the issuer's keys (see keySource) and returns
// once they are loaded or startWait has passed. Close stops it.
func NewVerifier(c config.AuthConf, opts ...Option) *Verifier {
	return NewVerifierWithin(c, startWait, opts...)
}

// NewVerifierWithin is NewVerifier waiting at most wait for the first keys.
func NewVerifierWithin(c config.AuthConf, wait time.Duration, opts ...Option) *Verifier {
	if c.KeyRefresh == 0 {
		c.KeyRefresh = config.DefaultKeyRefresh
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = config.DefaultMaxTokenLifetime
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{
		keys:          startKeys(ctx, c, &http.Client{Timeout: providerTimeout}),
		cache:         newTokenCache(),
		now:           time.Now,
		maxLifetime:   c.MaxTokenLifetime,
		tokenType:     c.TokenType,
		requireClient: c.RequireClient,
		stop:          cancel,
	}
	for _, opt := range opts {
		opt(v)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(acceptedAlgorithms),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(v.now),
	)
	select {
	case <-v.keys.loaded:
	case <-time.After(wait):
	}
	return v
}

// Ready reports whether the issuer's keys are loaded (tokens can be checked).
func (v *Verifier) Ready() bool { return v.keys.keyfunc() != nil }

// Close stops loading and refreshing keys.
func (v *Verifier) Close() { v.stop() }

// Verify checks a bearer token and returns its caller. A refused token is a
// *Refusal; ErrKeysUnavailable means no token can be checked yet.
//
// A verified token's caller is cached under the token's digest until the
// token expires — and only while the issuer still publishes the key that
// signed it: a key withdrawn from the issuer's key set stops verifying its
// tokens, cached or not, at the next scheduled refresh.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if len(token) > maxTokenBytes {
		return nil, refuse(reasonTooLarge)
	}
	key := sha256.Sum256([]byte(token))
	now := v.now()
	if p, ok := v.cache.get(key, now); ok {
		if v.keys.holds(ctx, p.kid) {
			return p, nil
		}
		v.cache.drop(key)
		return nil, refuse(reasonRevokedKey)
	}
	kf := v.keys.keyfunc()
	if kf == nil {
		return nil, ErrKeysUnavailable
	}
	var claims accessClaims
	tok, err := v.parser.ParseWithClaims(token, &claims, kf.KeyfuncCtx(ctx))
	if err != nil {
		return nil, refusalOf(err, &claims)
	}
	if v.tokenType != "" && !isAccessTokenType(tok.Header["typ"]) {
		return nil, refuse(reasonTokenType)
	}
	p, err := claims.principal(Leeway, v.maxLifetime, v.requireClient, now)
	if err != nil {
		return nil, err
	}
	if kid, ok := tok.Header["kid"].(string); ok && kid != "" {
		p.kid = kid
		v.cache.put(key, p, now) // a token naming no key is verified every time
	}
	return p, nil
}

// isAccessTokenType: RFC 9068 §2.1's typ header, "at+jwt" or its media type.
func isAccessTokenType(typ any) bool {
	s, _ := typ.(string)
	return strings.EqualFold(s, "at+jwt") || strings.EqualFold(s, "application/at+jwt")
}
