package auth

import (
	"errors"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// ErrKeysUnavailable: the issuer's signing keys have not been loaded yet
// (its discovery document or key set has not answered since start), so no
// token can be checked. It is the service's problem, not the caller's: 503.
var ErrKeysUnavailable = errors.New("auth: the identity provider's signing keys are not loaded yet")

// Refusal is why a request's credentials were refused (401). Code and
// Reason are fixed words and phrases, safe to log and to send: they never
// hold token text.
type Refusal struct {
	// Code is a short stable word (a metric label): no_token, expired, ...
	Code string
	// Reason is the phrase a person reads.
	Reason string
	// TokenSent: a bearer token was presented (RFC 6750 then asks for
	// error="invalid_token" in WWW-Authenticate).
	TokenSent bool
}

func (r *Refusal) Error() string { return "auth: " + r.Reason }

type reason struct{ code, text string }

// The reasons a token is refused.
var (
	reasonNoToken         = reason{"no_token", "no bearer token was sent"}
	reasonMalformed       = reason{"malformed", "the token is malformed"}
	reasonTooLarge        = reason{"too_large", "the token is too large"}
	reasonAlgorithm       = reason{"unverifiable", "the token cannot be verified (unsupported algorithm or key)"}
	reasonUnknownKey      = reason{"unknown_key", "the token is signed by a key the issuer does not publish"}
	reasonSignature       = reason{"bad_signature", "the token's signature is invalid"}
	reasonExpired         = reason{"expired", "the token has expired"}
	reasonNoExpiry        = reason{"no_expiry", "the token has no expiry (exp)"}
	reasonNotYetValid     = reason{"not_yet_valid", "the token is not valid yet"}
	reasonFutureIssued    = reason{"issued_in_future", "the token is issued in the future"}
	reasonIssuer          = reason{"wrong_issuer", "the token is from another issuer"}
	reasonAudience        = reason{"wrong_audience", "the token is not meant for this service (aud)"}
	reasonNoSubject       = reason{"no_subject", "the token has no subject (sub)"}
	reasonNoClient        = reason{"no_client", "the token names no client (azp, client_id, cid or appid): it is not an access token"}
	reasonIdentityTooLong = reason{"identity_too_long", "the token's subject or client id is longer than 255 characters"}
	reasonLifetime        = reason{"lifetime_too_long", "the token is meant to live longer than this service accepts (Auth.MaxTokenLifetime)"}
	reasonIDToken         = reason{"id_token", "an ID token is not an access token"}
	reasonRefreshToken    = reason{"refresh_token", "a refresh token is not an access token"}
	reasonTokenType       = reason{"wrong_type", "the token is not an access token (its typ header is not at+jwt)"}
	reasonRevokedKey      = reason{"revoked_key", "the token is signed by a key the issuer no longer publishes"}
	reasonInvalid         = reason{"invalid", "the token is not valid"}
)

func refuse(r reason) *Refusal { return &Refusal{Code: r.code, Reason: r.text, TokenSent: true} }

// NoToken is the refusal of a request without a bearer token.
func NoToken() *Refusal { return &Refusal{Code: reasonNoToken.code, Reason: reasonNoToken.text} }

// Malformed is the refusal of an Authorization header that is not one
// "Bearer <token>".
func Malformed() *Refusal { return refuse(reasonMalformed) }

// refusalOf classifies a jwt/v5 parse error into a fixed reason; claims are
// what the parser decoded (a missing required claim may be exp or aud).
func refusalOf(err error, claims *accessClaims) *Refusal {
	switch {
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return refuse(reasonUnknownKey)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(reasonMalformed)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(reasonSignature)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse(reasonAlgorithm)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(reasonExpired)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.ExpiresAt == nil:
		return refuse(reasonNoExpiry)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && len(claims.Audience) == 0:
		return refuse(reasonAudience)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse(reasonNotYetValid)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(reasonFutureIssued)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(reasonIssuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(reasonAudience)
	}
	var r *Refusal
	if errors.As(err, &r) {
		return r
	}
	return refuse(reasonInvalid)
}
