// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

// Package middleware holds the route middlewares project.api declares:
// Audit (the answers of the route are audited), Auth (who is calling) and
// RateLimit (how often).
package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
)

// realm names the protection space in WWW-Authenticate (RFC 6750).
const realm = "project-api"

// AuthMiddleware authenticates each request with its bearer token and
// refuses tokens that grant no project scope. Which project a caller may
// read is the logic's decision (auth.Principal.Grant): a project outside
// the grant must look exactly like a missing one.
type AuthMiddleware struct {
	verifier *auth.Verifier // nil: authentication is disabled
}

// NewAuthMiddleware checks tokens with v; with a nil v every caller is
// auth.Anonymous (Auth.Disabled).
func NewAuthMiddleware(v *auth.Verifier) *AuthMiddleware {
	return &AuthMiddleware{verifier: v}
}

func (m *AuthMiddleware) Handle(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m.verifier == nil {
			next(w, r.WithContext(auth.Attach(r.Context(), auth.Anonymous)))
			return
		}
		token, refusal := bearerToken(r.Header.Values("Authorization"))
		if refusal != nil {
			refuse(w, r, refusal)
			return
		}
		p, err := m.verifier.Verify(r.Context(), token)
		var refused *auth.Refusal
		switch {
		case errors.As(err, &refused):
			refuse(w, r, refused)
			return
		case err != nil:
			httpx.ErrorCtx(r.Context(), w, errs.New(errs.Unavailable,
				"tokens cannot be checked right now: the identity provider has not been reached; retry later", err))
			return
		}
		ctx := auth.Attach(r.Context(), p)
		if !p.HasProjectScope() {
			metricRefusals.Inc("insufficient_scope")
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="insufficient_scope", scope="`+auth.ScopeRead+` `+auth.ScopeReadAll+`"`)
			message := fmt.Sprintf("the token grants no project access: it needs scope %s (with a project_ids claim) or %s", auth.ScopeRead, auth.ScopeReadAll)
			if p.GrantRefused != "" {
				message += "; its " + auth.ScopeRead + " grant is refused: " + p.GrantRefused
				logx.WithContext(ctx).Infow("project:read grant refused", logx.Field("reason", p.GrantRefused))
			}
			httpx.ErrorCtx(ctx, w, errs.New(errs.PermissionDenied, message, nil))
			return
		}
		next(w, r.WithContext(ctx))
	}
}

// bearerToken is the token of the request's one "Authorization: Bearer
// <token>" header (RFC 6750 §2.1; the scheme is case-insensitive).
func bearerToken(values []string) (string, *auth.Refusal) {
	switch {
	case len(values) == 0:
		return "", auth.NoToken()
	case len(values) > 1:
		return "", auth.Malformed()
	}
	scheme, token, found := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", auth.NoToken() // another scheme: no bearer credentials at all
	}
	token = strings.TrimSpace(token)
	if !found || token == "" || strings.ContainsAny(token, " \t") {
		return "", auth.Malformed()
	}
	return token, nil
}

// refuse answers 401 with the RFC 6750 challenge. The reason is a fixed
// phrase; the token is never logged.
func refuse(w http.ResponseWriter, r *http.Request, refusal *auth.Refusal) {
	metricRefusals.Inc(refusal.Code)
	challenge := `Bearer realm="` + realm + `"`
	if refusal.TokenSent {
		challenge += `, error="invalid_token", error_description="` + refusal.Reason + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	logx.WithContext(r.Context()).Infow("request refused: unauthenticated", logx.Field("reason", refusal.Code))
	message := "a valid bearer token is required: " + refusal.Reason
	if !refusal.TokenSent {
		message = "a bearer token is required: send Authorization: Bearer <access token>"
	}
	httpx.ErrorCtx(r.Context(), w, errs.New(errs.Unauthenticated, message, refusal))
}
