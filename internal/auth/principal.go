// Package auth says who is calling and what they may read. It verifies
// OpenID Connect bearer access tokens (JWT) against the issuer's published
// keys (Verifier) and turns their claims into a Principal, whose grants
// decide which projects it may read.
package auth

import (
	"context"
	"slices"
	"time"
)

// The scopes of the access contract.
const (
	// ScopeReadAll reads every project.
	ScopeReadAll = "project:read:all"
	// ScopeRead reads the projects whose ids are in the token's project_ids claim.
	ScopeRead = "project:read"
)

// Principal is a verified caller: who it is, on behalf of which client, and
// what its token grants.
type Principal struct {
	// Subject is the token's sub.
	Subject string
	// ClientID is the token's azp, else its client_id.
	ClientID string
	// ReadAll: the token has ScopeReadAll.
	ReadAll bool
	// Read: the token has ScopeRead; Projects then lists what it may read.
	Read bool
	// Projects are the token's project_ids, sorted.
	Projects []uint64
	// GrantRefused says why the token's ScopeRead grants nothing (its
	// project_ids claim is missing or not a list of ids); empty otherwise.
	GrantRefused string

	// notBefore and notAfter bound when the verified token may be used
	// (nbf and exp, widened by the allowed clock skew); kid is the key that
	// signed it.
	notBefore, notAfter time.Time
	kid                 string
}

// Anonymous is the caller when authentication is disabled: it reads every
// project and has no identity (nothing is audited).
var Anonymous = &Principal{ReadAll: true}

// HasProjectScope reports whether the token grants any project access.
func (p *Principal) HasProjectScope() bool { return p.ReadAll || p.Read }

// Grant is the scope that lets p read project id, or "" if none does.
func (p *Principal) Grant(id uint64) string {
	switch {
	case p.ReadAll:
		return ScopeReadAll
	case p.Read:
		if _, ok := slices.BinarySearch(p.Projects, id); ok {
			return ScopeRead
		}
	}
	return ""
}

// CanRead reports whether p may read project id.
func (p *Principal) CanRead(id uint64) bool { return p.Grant(id) != "" }

// validAt reports whether the token p came from may be used at t.
func (p *Principal) validAt(t time.Time) bool {
	return !t.Before(p.notBefore) && t.Before(p.notAfter)
}

// slot carries the principal of a request. The outermost middleware that
// needs to know who the caller turned out to be (the audit trail) places an
// empty slot in the context; authentication fills it. Contexts only flow
// inwards, so a value set by an inner middleware is seen outside through
// the slot.
type slot struct{ p *Principal }

type slotKey struct{}

// WithSlot returns ctx with an empty principal slot, unless it has one.
func WithSlot(ctx context.Context) context.Context {
	if _, ok := ctx.Value(slotKey{}).(*slot); ok {
		return ctx
	}
	return context.WithValue(ctx, slotKey{}, &slot{})
}

// Attach records p as the request's principal (in ctx's slot, or a new one).
func Attach(ctx context.Context, p *Principal) context.Context {
	ctx = WithSlot(ctx)
	ctx.Value(slotKey{}).(*slot).p = p
	return ctx
}

// From returns the request's principal, or nil if none was attached.
func From(ctx context.Context) *Principal {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		return s.p
	}
	return nil
}
