package auth

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessClaims are the claims of an access token the service reads (RFC
// 9068 and the access contract). Anything else in the token is ignored.
type accessClaims struct {
	jwt.RegisteredClaims
	// Scope is RFC 8693/9068's space-separated scope string; Scp is what
	// some providers send instead (Okta: an array, Entra ID: a string), and
	// Roles is where Entra ID puts an app-only token's app roles.
	Scope scopes `json:"scope"`
	Scp   scopes `json:"scp"`
	Roles scopes `json:"roles"`
	// ProjectIDs are the projects ScopeRead grants (array of integers).
	ProjectIDs []uint64 `json:"project_ids"`
	// Azp (OIDC) or ClientID (RFC 9068): the client the token was issued to.
	Azp      string `json:"azp"`
	ClientID string `json:"client_id"`
}

// scopes is a scope claim: a space-separated string or an array of strings.
type scopes []string

func (s *scopes) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strings.Fields(one)
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("scope is neither a string nor an array of strings")
	}
	*s = many
	return nil
}

// principal turns verified claims into the caller; the token may be used
// within its validity widened by leeway.
func (c *accessClaims) principal(leeway time.Duration) (*Principal, error) {
	if c.Subject == "" {
		return nil, refuse(reasonNoSubject)
	}
	p := &Principal{Subject: c.Subject, ClientID: c.Azp}
	if p.ClientID == "" {
		p.ClientID = c.ClientID
	}
	for _, s := range slices.Concat(c.Scope, c.Scp, c.Roles) {
		switch s {
		case ScopeReadAll:
			p.ReadAll = true
		case ScopeRead:
			p.Read = true
		}
	}
	if p.Read {
		p.Projects = slices.Clone(c.ProjectIDs)
		slices.Sort(p.Projects)
	}
	p.notAfter = c.ExpiresAt.Add(leeway) // exp is required: never nil here
	if c.NotBefore != nil {
		p.notBefore = c.NotBefore.Add(-leeway)
	}
	return p, nil
}
