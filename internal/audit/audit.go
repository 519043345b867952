// Package audit records what each answer discloses, and to whom. The logic
// that builds an answer declares the projects it discloses (Disclose) or,
// for a refusal, asks for (AskedFor); the rows of the audit trail are
// written from that declaration — never re-derived from the request's URL,
// so no spelling of an id, no route and no encoding carries a record out
// unaudited. The answer leaves only once its rows are committed (Finish):
// fail closed.
//
// A request's Record is begun by the outermost handler (Begin), armed by
// the Audit route middleware on routes whose answers are audited (Arm), and
// finished by whoever sends the answer, with the status about to be sent:
// the handler's answer, or the deadline's 504 — the first to finish decides,
// so the trail and the client agree.
//
// Disclosing early costs no round trip: a record's rows go to the trail
// while its reads run, announcing the answer expected (200, or 304 for a
// conditional request). When the answer turns out otherwise — the project
// is missing (404), a read failed (5xx), the deadline passed (504) — Finish
// appends the status the client receives (access_audit_outcome) before that
// answer leaves.
package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/zeromicro/go-zero/core/trace"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/model"
)

// WriteTimeout bounds how long an answer waits for its rows: the request's
// own deadline may have passed already (a 504 is audited too).
const WriteTimeout = 2 * time.Second

// ErrFinished: the answer has been decided (the deadline answered); the
// logic must not disclose anything more.
var ErrFinished = errors.New("audit: the answer has been sent already")

// Writer appends rows to the trail (store.AuditTrail). Each call hands its
// rows over at once and returns a channel that receives nil once they are
// committed, or the reason they are not.
type Writer interface {
	AppendRows(rows []*model.AccessAudit) <-chan error
	AppendOutcome(o *model.AccessAuditOutcome) <-chan error
}

// Record is what one request's answer disclosed.
type Record struct {
	// ID is the request's id, generated here (never taken from the client):
	// the X-Request-Id header, the request_id of its log lines and rows.
	ID     string
	method string
	// conditional: the request carries If-None-Match (a 304 is expected).
	conditional bool

	mu        sync.Mutex
	route     string
	trail     Writer
	ctx       context.Context // the armed route's context: caller and trace
	unaudited bool
	asked     []uint64
	announced <-chan error // the rows of Disclose, on their way
	expected  int          // the status they announced
	finished  bool
}

type recordKey struct{}

// Begin starts the record of request r and returns the context that carries it.
func Begin(r *http.Request) (context.Context, *Record) {
	id := uuid.Must(uuid.NewV7()) // time-ordered: the trail's index stays append-mostly
	rec := &Record{ID: hex.EncodeToString(id[:]), method: r.Method, conditional: r.Header.Get("If-None-Match") != ""}
	return context.WithValue(r.Context(), recordKey{}, rec), rec
}

// From is the request's record; nil outside a request (logic unit tests),
// where every declaration is a no-op.
func From(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// SetRoute names the route template the request matched (e.g. /project/:id).
func (r *Record) SetRoute(route string) {
	r.mu.Lock()
	r.route = route
	r.mu.Unlock()
}

// Route is the route template the request matched, "" if none.
func (r *Record) Route() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.route
}

// Arm makes the request's answer audited, to trail, once ctx carries a
// verified caller (auth.From); a nil trail audits nothing (authentication
// disabled). It returns ctx with an empty caller slot for Auth to fill.
func Arm(ctx context.Context, trail Writer) context.Context {
	ctx = auth.WithSlot(ctx)
	if rec := From(ctx); rec != nil && trail != nil {
		rec.mu.Lock()
		rec.trail, rec.ctx = trail, ctx
		rec.mu.Unlock()
	}
	return ctx
}

// Unaudited marks the answer as one that discloses nothing and asks for
// nothing (a 429 refused before any read): it leaves no row.
func Unaudited(ctx context.Context) {
	if rec := From(ctx); rec != nil {
		rec.mu.Lock()
		rec.unaudited = true
		rec.mu.Unlock()
	}
}

// Disclose declares that the answer discloses projects ids (none: an answer
// that names no project, such as an empty page), granted by scope grant.
// Their rows go to the trail at once, announcing the answer expected; call
// it before the reads start when the projects are known then (a record),
// else as soon as they are (a page). It fails once the answer has been
// decided: nothing more may be disclosed.
func Disclose(ctx context.Context, grant string, ids ...uint64) error {
	rec := From(ctx)
	if rec == nil {
		return nil
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.finished {
		return ErrFinished
	}
	if rec.unaudited {
		return errors.New("audit: this answer was declared to disclose nothing")
	}
	p := rec.caller()
	if p == nil {
		return nil
	}
	rec.expected = http.StatusOK
	if rec.conditional {
		rec.expected = http.StatusNotModified
	}
	if rec.announced != nil {
		return errors.New("audit: an answer discloses once (all its projects in one call)")
	}
	rec.announced = rec.trail.AppendRows(rec.rows(p, rec.expected, grant, ids))
	return nil
}

// AskedFor declares that the caller asked for project id and the answer
// refuses it (outside the grant: a 404 like a missing project's). The row
// names the project, with no grant, and the status the client receives.
func AskedFor(ctx context.Context, id uint64) {
	if rec := From(ctx); rec != nil {
		rec.mu.Lock()
		rec.asked = append(rec.asked, id)
		rec.mu.Unlock()
	}
}

// Finish records that the answer about to be sent has status, and returns
// once its rows are committed. An error means they are not: the answer must
// not be sent (send a 503 with nothing of the record instead). The first
// call decides; later ones return nil at once (the deadline answered first,
// or the handler did).
func (r *Record) Finish(status int) error {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return nil
	}
	r.finished = true
	p := r.caller()
	if p == nil || r.unaudited {
		r.mu.Unlock()
		return nil
	}
	announced, expected := r.announced, r.expected
	var rows []*model.AccessAudit
	if announced == nil {
		rows = r.rows(p, status, "", r.asked)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), WriteTimeout)
	defer cancel()
	if announced == nil {
		return wait(ctx, r.trail.AppendRows(rows))
	}
	if err := wait(ctx, announced); err != nil {
		return err
	}
	if status == expected {
		return nil
	}
	return wait(ctx, r.trail.AppendOutcome(&model.AccessAuditOutcome{
		RequestId: r.ID, OccurredAt: now(), Status: uint64(status),
	}))
}

// caller is the verified caller of an armed record (r.mu held), nil when
// there is none to audit: not armed, or no verified caller (a 401, or
// authentication disabled).
func (r *Record) caller() *auth.Principal {
	if r.trail == nil {
		return nil
	}
	p := auth.From(r.ctx)
	if p == nil || p == auth.Anonymous {
		return nil
	}
	return p
}

// rows are the rows of an answer with status naming ids (one row with no
// project when ids is empty).
func (r *Record) rows(p *auth.Principal, status int, grant string, ids []uint64) []*model.AccessAudit {
	base := model.AccessAudit{
		RequestId:  r.ID,
		OccurredAt: now(),
		Subject:    p.Subject,
		ClientId:   p.ClientID,
		Method:     r.method,
		Route:      r.route,
		Status:     uint64(status),
		GrantedBy:  grant,
		TraceId:    trace.TraceIDFromContext(r.ctx),
	}
	if len(ids) == 0 {
		return []*model.AccessAudit{&base}
	}
	rows := make([]*model.AccessAudit, len(ids))
	for i, id := range ids {
		row := base
		row.ProjectId = sql.NullInt64{Int64: int64(id), Valid: true}
		rows[i] = &row
	}
	return rows
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func wait(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
