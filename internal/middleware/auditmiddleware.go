// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package middleware

import (
	"net/http"

	"github.com/clinicaldata/projectsvc/internal/audit"
)

// AuditMiddleware makes the answers of its routes audited: once Auth has
// found a verified caller, the answer leaves only with its rows in the
// audit trail (see package audit). What the rows say — which projects were
// disclosed or asked for — the logic declares; the status is the one the
// client receives, recorded by whoever sends the answer. It holds nothing
// and reads nothing of the request: it arms the request's record, with the
// slot Auth fills with the caller. Wrap Auth with it, so that Auth's 403 is
// audited too.
type AuditMiddleware struct {
	trail audit.Writer // nil: nothing is audited (authentication disabled)
}

// NewAuditMiddleware records to trail; a nil trail records nothing.
func NewAuditMiddleware(trail audit.Writer) *AuditMiddleware {
	return &AuditMiddleware{trail: trail}
}

func (m *AuditMiddleware) Handle(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(audit.Arm(r.Context(), m.trail)))
	}
}
