package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one of the issuer's RSA keys (RS256).
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	return &signingKey{id: newID(), key: key}, nil
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a signing key as the key set publishes it.
type publicKey struct{ *signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Rotate publishes a new signing key and signs new tokens with it; the old
// keys stay published (as a provider does while tokens they signed live).
func (iss *Issuer) Rotate() error {
	key, err := newSigningKey()
	if err != nil {
		return err
	}
	iss.store.mu.Lock()
	defer iss.store.mu.Unlock()
	iss.store.keys = append(iss.store.keys, key)
	return nil
}

// Withdraw publishes a new signing key and stops publishing every other:
// what an operator does to revoke a key that leaked. Tokens the old keys
// signed must stop verifying.
func (iss *Issuer) Withdraw() error {
	key, err := newSigningKey()
	if err != nil {
		return err
	}
	iss.store.mu.Lock()
	defer iss.store.mu.Unlock()
	iss.store.keys = []*signingKey{key}
	return nil
}

// Claims are the claims the issuer puts in an access token for subject,
// valid for five minutes from now: a starting point for crafted tokens.
func (iss *Issuer) Claims(subject string, scope string) jwt.MapClaims {
	now := jwt.NewNumericDate(timeNow())
	return jwt.MapClaims{
		"iss": iss.URL, "aud": []string{Audience}, "sub": subject, "client_id": subject,
		"iat": now, "nbf": now, "exp": jwt.NewNumericDate(timeNow().Add(fiveMinutes)), "scope": scope,
	}
}

// Sign signs claims with the issuer's current key (RS256, its kid): a
// token the issuer could have issued.
func (iss *Issuer) Sign(claims jwt.Claims) string {
	iss.store.mu.Lock()
	key := iss.store.keys[len(iss.store.keys)-1]
	iss.store.mu.Unlock()
	return SignWith(jwt.SigningMethodRS256, key.key, key.id, claims)
}

// PublicKey is the public half of the issuer's current key (for
// key-confusion tokens: HS256 "signed" with it).
func (iss *Issuer) PublicKey() *rsa.PublicKey {
	iss.store.mu.Lock()
	defer iss.store.mu.Unlock()
	return &iss.store.keys[len(iss.store.keys)-1].key.PublicKey
}

// SignWith signs claims with any method and key, naming kid (if not empty)
// in the header.
func SignWith(method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		panic("oidctest: sign: " + err.Error())
	}
	return s
}

// SignToken signs a token built by the caller (its header as given, e.g. a
// typ) with the issuer's current key, naming its kid.
func (iss *Issuer) SignToken(tok *jwt.Token) string {
	iss.store.mu.Lock()
	key := iss.store.keys[len(iss.store.keys)-1]
	iss.store.mu.Unlock()
	tok.Header["kid"] = key.id
	s, err := tok.SignedString(key.key)
	if err != nil {
		panic("oidctest: sign: " + err.Error())
	}
	return s
}
