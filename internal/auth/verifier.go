package auth

import (
	"context"
	"crypto/sha256"
	"net/http"
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
	keys   *keySource
	parser *jwt.Parser
	cache  *tokenCache
	stop   context.CancelFunc
}

// NewVerifier starts loading the issuer's keys (see keySource) and returns
// once they are loaded or startWait has passed. Close stops it.
func NewVerifier(c config.AuthConf) *Verifier {
	return NewVerifierWithin(c, startWait)
}

// NewVerifierWithin is NewVerifier waiting at most wait for the first keys.
func NewVerifierWithin(c config.AuthConf, wait time.Duration) *Verifier {
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{
		keys: startKeys(ctx, c, &http.Client{Timeout: providerTimeout}),
		parser: jwt.NewParser(
			jwt.WithValidMethods(acceptedAlgorithms),
			jwt.WithIssuer(c.Issuer),
			jwt.WithAudience(c.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithStrictDecoding(),
		),
		cache: newTokenCache(),
		stop:  cancel,
	}
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
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if len(token) > maxTokenBytes {
		return nil, refuse(reasonTooLarge)
	}
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	if p, ok := v.cache.get(key, now); ok {
		return p, nil
	}
	kf := v.keys.keyfunc()
	if kf == nil {
		return nil, ErrKeysUnavailable
	}
	var claims accessClaims
	if _, err := v.parser.ParseWithClaims(token, &claims, kf.KeyfuncCtx(ctx)); err != nil {
		return nil, refusalOf(err, &claims)
	}
	p, err := claims.principal(Leeway)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, p, now)
	return p, nil
}
