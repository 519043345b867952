package bench

import (
	"context"
	"net/http"
	"sync"

	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/model"
)

// The serial baseline: the service itself — router, middlewares, logic,
// JSON — with its three reads made to run one after another. A middleware
// gives each request a lock and every model call holds it, so the only
// difference between the two arms is the fan-out.

type requestLock struct{}

// withRequestLock gives each request the lock its reads take turns on.
func withRequestLock(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r.WithContext(context.WithValue(r.Context(), requestLock{}, new(sync.Mutex))))
	}
}

// turn waits for the request's lock; the returned func releases it.
func turn(ctx context.Context) func() {
	mu, ok := ctx.Value(requestLock{}).(*sync.Mutex)
	if !ok {
		return func() {}
	}
	mu.Lock()
	return mu.Unlock
}

// serializeReads wraps the context's models so that each takes its
// request's turn.
func serializeReads(s *store.Models) {
	s.Project = serialProject{s.Project}
	s.ProjectInstitution = serialProjectInstitution{s.ProjectInstitution}
	s.ProjectReport = serialProjectReport{s.ProjectReport}
}

type serialProject struct{ model.ProjectModel }

func (m serialProject) FindOne(ctx context.Context, id uint64) (*model.Project, error) {
	defer turn(ctx)()
	return m.ProjectModel.FindOne(ctx, id)
}

type serialProjectInstitution struct{ model.ProjectInstitutionModel }

func (m serialProjectInstitution) FindByProjectID(ctx context.Context, id uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error) {
	defer turn(ctx)()
	return m.ProjectInstitutionModel.FindByProjectID(ctx, id, after, limit)
}

type serialProjectReport struct{ model.ProjectReportModel }

func (m serialProjectReport) FindLatestByProjectID(ctx context.Context, id uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error) {
	defer turn(ctx)()
	return m.ProjectReportModel.FindLatestByProjectID(ctx, id, before, limit)
}
