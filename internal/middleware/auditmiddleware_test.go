package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/middleware"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/model"
)

// memTrail is an audit.Writer that commits at once.
type memTrail struct {
	mu   sync.Mutex
	rows []*model.AccessAudit
}

func (m *memTrail) AppendRows(rows []*model.AccessAudit) <-chan error {
	m.mu.Lock()
	m.rows = append(m.rows, rows...)
	m.mu.Unlock()
	done := make(chan error, 1)
	done <- nil
	return done
}

func (m *memTrail) AppendOutcome(*model.AccessAuditOutcome) <-chan error {
	done := make(chan error, 1)
	done <- nil
	return done
}

// serve runs Audit(Auth(handler)) as the generated routes chain them, for
// a request whose record the guard began, and finishes the record with the
// answer's status, as the answer holder does.
func serve(trail audit.Writer, v *auth.Verifier, authorization string, handler http.HandlerFunc) (int, *audit.Record) {
	r := httptest.NewRequest(http.MethodGet, "/project/3", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	ctx, rec := audit.Begin(r)
	rec.SetRoute("/project/:id")
	h := middleware.NewAuditMiddleware(trail).Handle(middleware.NewAuthMiddleware(v).Handle(handler))
	w := httptest.NewRecorder()
	h(w, r.WithContext(ctx))
	if err := rec.Finish(w.Code); err != nil {
		return http.StatusServiceUnavailable, rec
	}
	return w.Code, rec
}

func discloses(id uint64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := audit.Disclose(r.Context(), auth.From(r.Context()).Grant(id), id); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

// TestAudit_ArmsTheRecordWithTheCallerAuthFinds: behind Audit, the rows
// name the caller Auth verified (the slot Audit places, Auth fills), the
// projects the handler disclosed, and the route; Auth's 403 is audited
// too; a 401 has no caller and leaves no row.
func TestAudit_ArmsTheRecordWithTheCallerAuthFinds(t *testing.T) {
	iss := oidctest.Start(t, readsSome, noScope)
	v := verifier(t, iss)
	trail := &memTrail{}

	status, rec := serve(trail, v, "Bearer "+iss.MustToken(t, readsSome.ID, readsSome.Secret, auth.ScopeRead), discloses(3))
	if status != http.StatusOK || len(trail.rows) != 1 {
		t.Fatalf("status %d, %d rows: want 200 and one row", status, len(trail.rows))
	}
	if r := trail.rows[0]; r.Subject != "reads-some" || r.ClientId != "reads-some" || r.ProjectId.Int64 != 3 ||
		r.GrantedBy != auth.ScopeRead || r.Route != "/project/:id" || r.RequestId != rec.ID || r.Status != 200 {
		t.Fatalf("row %+v", r)
	}

	status, _ = serve(trail, v, "Bearer "+iss.MustToken(t, noScope.ID, noScope.Secret, "openid"), discloses(3))
	if status != http.StatusForbidden || len(trail.rows) != 2 || trail.rows[1].Status != 403 || trail.rows[1].ProjectId.Valid {
		t.Fatalf("403: status %d, rows %+v: want the 403 audited with no project", status, trail.rows)
	}

	status, _ = serve(trail, v, "", discloses(3))
	if status != http.StatusUnauthorized || len(trail.rows) != 2 {
		t.Fatalf("401: status %d, %d rows: want no row", status, len(trail.rows))
	}
}

// TestAudit_WithoutATrailNothingIsAudited: authentication disabled.
func TestAudit_WithoutATrailNothingIsAudited(t *testing.T) {
	var disclosed error
	status, rec := serve(nil, nil, "", func(w http.ResponseWriter, r *http.Request) {
		disclosed = audit.Disclose(r.Context(), auth.ScopeReadAll, 3)
	})
	if status != http.StatusOK || disclosed != nil || rec.Finish(http.StatusOK) != nil {
		t.Fatalf("status %d, Disclose %v", status, disclosed)
	}
}

// TestAudit_ReadsNothingOfTheRequest: the rows come from what the handler
// declares, not from the URL: a request for /project/3 whose handler
// discloses project 5 is audited as project 5.
func TestAudit_ReadsNothingOfTheRequest(t *testing.T) {
	iss := oidctest.Start(t, readsAll)
	v := verifier(t, iss)
	trail := &memTrail{}
	if status, _ := serve(trail, v, "Bearer "+iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll), discloses(5)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if len(trail.rows) != 1 || trail.rows[0].ProjectId.Int64 != 5 {
		t.Fatalf("rows %+v, want the disclosed project 5", trail.rows)
	}

}
