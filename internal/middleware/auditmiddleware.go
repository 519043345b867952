// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package middleware

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/trace"
	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/pathvar"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/model"
)

// AuditMiddleware makes every answer to a verified caller leave an audit
// row, and no answer leave before its row is committed (fail closed). It
// wraps Auth: it places the slot Auth fills with the caller, holds the
// handler's whole answer back, writes the row with the status about to be
// sent, and sends the answer only then — or, if the row cannot be written,
// a 503 instead. Requests without a valid token (401) carry no identity
// and leave no row. Holding the whole answer, it also serves conditional
// GETs of the representation (see conditional.go).
type AuditMiddleware struct {
	trail *AuditTrail // nil: no audit trail (authentication disabled)
}

// NewAuditMiddleware records to trail; a nil trail records nothing.
func NewAuditMiddleware(trail *AuditTrail) *AuditMiddleware {
	return &AuditMiddleware{trail: trail}
}

func (m *AuditMiddleware) Handle(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.WithSlot(r.Context())
		held := holdAnswer()
		defer held.release()
		next(held, r.WithContext(ctx))

		status := conditional(held, r)
		p := auth.From(ctx)
		if m.trail == nil || p == nil || p == auth.Anonymous {
			held.sendTo(w, status)
			return
		}
		row := auditRow(ctx, r, p, status)
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditWriteTimeout)
		err := m.trail.Record(wctx, row)
		cancel()
		if err != nil {
			// Fail closed: the record (or any answer) leaves only with its row.
			httpx.ErrorCtx(ctx, w, errs.New(errs.Unavailable,
				"the access could not be written to the audit trail, so nothing was sent; retry later", err))
			return
		}
		held.sendTo(w, status)
	}
}

// auditRow is the row of one answer to p.
func auditRow(ctx context.Context, r *http.Request, p *auth.Principal, status int) *model.AccessAudit {
	row := &model.AccessAudit{
		OccurredAt: time.Now().UTC(),
		Subject:    p.Subject,
		ClientId:   p.ClientID,
		Method:     r.Method,
		Status:     uint64(status),
		TraceId:    trace.TraceIDFromContext(ctx),
	}
	if id, err := strconv.ParseUint(pathvar.Vars(r)["id"], 10, 63); err == nil && id > 0 {
		row.ProjectId = sql.NullInt64{Int64: int64(id), Valid: true}
		row.GrantedBy = p.Grant(id)
	}
	return row
}
