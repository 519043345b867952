package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// maxIdentityChars bounds sub and the client id: the audit trail's columns
// hold 255 characters, and one caller's over-long value must never fail
// another's row (it is refused at the door).
const maxIdentityChars = 255

// accessClaims are the claims of an access token the service reads (RFC
// 9068 and the access contract). Anything else in the token is ignored.
type accessClaims struct {
	jwt.RegisteredClaims
	// Scope is RFC 8693/9068's space-separated scope string; Scp is what
	// some providers send instead (Okta: an array, Entra ID: a string), and
	// Roles is where Entra ID puts app roles.
	Scope scopes `json:"scope"`
	Scp   scopes `json:"scp"`
	Roles scopes `json:"roles"`
	// ProjectIDs are the projects ScopeRead grants.
	ProjectIDs projectIDs `json:"project_ids"`
	// The client the token was issued to: azp (OIDC, Keycloak, Entra ID
	// v2), client_id (RFC 9068), cid (Okta), appid (Entra ID v1).
	Azp      string `json:"azp"`
	ClientID string `json:"client_id"`
	Cid      string `json:"cid"`
	Appid    string `json:"appid"`
	// What only ID tokens carry: at_hash and c_hash (OpenID Connect Core
	// §3.1.3.6, §3.3.2.11), Keycloak's typ "ID" ("Bearer" in its access
	// tokens; "Refresh" in its refresh tokens).
	AtHash json.RawMessage `json:"at_hash"`
	CHash  json.RawMessage `json:"c_hash"`
	Typ    string          `json:"typ"`
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

// projectIDs is the project_ids claim in the shapes identity providers'
// mappers emit: an array of integers (the contract), an array of decimal
// strings (Entra ID claims mapping), or one integer or decimal string (a
// Keycloak mapper without "multivalued"). Any other value refuses the
// project:read grant — not the token: refused says why.
type projectIDs struct {
	present bool
	ids     []uint64
	refused string
}

func (p *projectIDs) UnmarshalJSON(b []byte) error {
	p.present = true
	b = bytes.TrimSpace(b)
	var items []json.RawMessage
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &items); err != nil {
			p.refused = "project_ids is not a list of project ids"
			return nil
		}
	} else {
		items = []json.RawMessage{b}
	}
	ids := make([]uint64, 0, len(items))
	for _, item := range items {
		id, ok := projectID(item)
		if !ok {
			p.refused = "project_ids holds " + quoteClaim(item) + ", which is not a project id (a positive integer)"
			return nil
		}
		ids = append(ids, id)
	}
	p.ids = ids
	return nil
}

// projectID reads a positive integer, bare or as a decimal string.
func projectID(raw json.RawMessage) (uint64, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	id, err := strconv.ParseUint(s, 10, 63)
	return id, err == nil && id > 0
}

// quoteClaim is a claim value (its JSON text) for a refusal's reason,
// bounded: at most 24 bytes of it, cut on a rune boundary.
func quoteClaim(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 24 {
		cut := 24
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// principal turns verified claims into the caller, after the checks
// the JWT library does not know: an ID token is not an access token, the
// identity must fit the audit trail, and the token may not live too long.
func (c *accessClaims) principal(leeway, maxLifetime time.Duration, requireClient bool, now time.Time) (*Principal, error) {
	switch {
	case len(c.AtHash) > 0 || len(c.CHash) > 0 || strings.EqualFold(c.Typ, "ID"):
		return nil, refuse(reasonIDToken)
	case strings.EqualFold(c.Typ, "Refresh"):
		return nil, refuse(reasonRefreshToken)
	case c.Subject == "":
		return nil, refuse(reasonNoSubject)
	}
	p := &Principal{Subject: c.Subject, ClientID: firstNonEmpty(c.Azp, c.ClientID, c.Cid, c.Appid)}
	switch {
	case requireClient && p.ClientID == "":
		return nil, refuse(reasonNoClient)
	case utf8.RuneCountInString(p.Subject) > maxIdentityChars || utf8.RuneCountInString(p.ClientID) > maxIdentityChars:
		return nil, refuse(reasonIdentityTooLong)
	}
	issued := now
	if c.IssuedAt != nil {
		issued = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(issued) > maxLifetime { // exp is required: never nil here
		return nil, refuse(reasonLifetime)
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
		switch {
		case !c.ProjectIDs.present:
			p.Read, p.GrantRefused = false, "the token has scope "+ScopeRead+" but no project_ids claim"
		case c.ProjectIDs.refused != "":
			p.Read, p.GrantRefused = false, c.ProjectIDs.refused
		default:
			p.Projects = slices.Clone(c.ProjectIDs.ids)
			slices.Sort(p.Projects)
		}
	}
	p.notAfter = c.ExpiresAt.Add(leeway)
	if c.NotBefore != nil {
		p.notBefore = c.NotBefore.Add(-leeway)
	}
	return p, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
