package project_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// waitBound bounds every wait in these tests: a broken fan-out fails the
// test after this long instead of hanging it.
const waitBound = 5 * time.Second

// newSvc is the service's context over the given fakes, with the shipped
// configuration and the overrides (coalescing off unless they turn it on).
func newSvc(t testing.TB, p model.ProjectModel, i model.ProjectInstitutionModel, r model.ProjectReportModel, overrides ...string) *svc.ServiceContext {
	t.Helper()
	c := servicetest.Config(t, servicetest.NoDatabase, append([]string{"Coalesce: false"}, overrides...)...)
	s, err := svc.NewServiceContext(c, store.WithModels(func(m *store.Models) {
		m.Project, m.ProjectInstitution, m.ProjectReport = p, i, r
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// load is one request's record through the logic, as the handler calls it
// for a caller that may read every project.
func load(ctx context.Context, s *svc.ServiceContext, id uint64, reports int) (*types.ProjectDetailsResp, error) {
	return loadAs(ctx, auth.Anonymous, s, id, reports)
}

// loadAs is load for the given caller.
func loadAs(ctx context.Context, p *auth.Principal, s *svc.ServiceContext, id uint64, reports int) (*types.ProjectDetailsResp, error) {
	return project.NewGetProjectDetailsLogic(auth.Attach(ctx, p), s).
		GetProjectDetails(&types.ProjectDetailsReq{Id: int64(id), Reports: int64(reports)})
}

func someProject(id uint64) *model.Project {
	return &model.Project{Id: id, Code: "CTP-1", Title: "t", Phase: "III", Status: "recruiting",
		CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// barrier returns a function each read calls on entry: it returns only once
// all n reads have entered, or fails after waitBound. A serial fan-out never
// gets the second read started while the first waits, so it fails here.
func barrier(t *testing.T, n int) func(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(n)
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	return func(ctx context.Context) error {
		wg.Done()
		select {
		case <-all:
			return nil
		case <-time.After(waitBound):
			t.Error("the three reads did not all start while one was still running: they do not overlap")
			return errors.New("no overlap")
		}
	}
}

func TestFanOut_ReadsOverlap(t *testing.T) {
	enter := barrier(t, 3)
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			if err := enter(ctx); err != nil {
				return nil, err
			}
			return someProject(id), nil
		}),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return nil, enter(ctx)
		}),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return nil, enter(ctx)
		}),
	)
	resp, err := load(context.Background(), s, 7, 10)
	if err != nil {
		t.Fatalf("LoadProjectDetails: %v", err)
	}
	if resp.Project.Id != 7 {
		t.Fatalf("project id = %d, want 7", resp.Project.Id)
	}
}

func TestFanOut_CancelsSiblingsOnFirstError(t *testing.T) {
	var canceled sync.WaitGroup
	canceled.Add(2)
	waitForCancel := func(ctx context.Context) error {
		defer canceled.Done()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitBound):
			t.Error("a sibling read was not canceled after the first error")
			return nil
		}
	}
	boom := errors.New("boom")
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			return nil, boom
		}),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return nil, waitForCancel(ctx)
		}),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return nil, waitForCancel(ctx)
		}),
	)
	_, err := load(context.Background(), s, 1, 10)
	waited := make(chan struct{})
	go func() { canceled.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(waitBound):
		t.Fatalf("the sibling reads never ended (load returned %v)", err)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the first error (boom), not a sibling's cancellation", err)
	}
	if code := errs.Classify(err).Code; code != errs.Internal {
		t.Fatalf("code = %s, want %s", code, errs.Internal)
	}
}

func TestFanOut_PanicBecomesInternalError(t *testing.T) {
	project := fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) { return someProject(id), nil })
	institutions := fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) { return nil, nil })
	ok := func() *svc.ServiceContext {
		return newSvc(t, project, institutions,
			fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) { return nil, nil }),
		)
	}
	s := newSvc(t, project, institutions, fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
		var m map[string]int
		//lint:ignore SA5000 the nil map write is the injected panic
		m["boom"]++ // nil map write: a real runtime panic
		return nil, nil
	}))
	resp, err := load(context.Background(), s, 1, 10)
	if resp != nil {
		t.Fatalf("a partial record was returned after a panic: %+v", resp)
	}
	if code := errs.Classify(err).Code; code != errs.Internal {
		t.Fatalf("code = %s (%v), want internal", code, err)
	}
	// The process lives and the next load works.
	if _, err := load(context.Background(), ok(), 1, 10); err != nil {
		t.Fatalf("load after a panic: %v", err)
	}
}

func TestFanOut_NotFoundIsTyped(t *testing.T) {
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) { return nil, model.ErrNotFound }),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) { return nil, nil }),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) { return nil, nil }),
	)
	resp, err := load(context.Background(), s, 99, 10)
	if resp != nil {
		t.Fatalf("resp = %+v, want nil", resp)
	}
	e := errs.Classify(err)
	if e.Code != errs.NotFound || e.Status() != 404 {
		t.Fatalf("got %s/%d, want not_found/404", e.Code, e.Status())
	}
}

func TestFanOut_PassesLimitAndID(t *testing.T) {
	var gotID, gotSitesID uint64
	var gotLimit int
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) { gotID = id; return someProject(id), nil }),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			gotSitesID = id
			return nil, nil
		}),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			gotLimit = limit
			return nil, nil
		}),
	)
	if _, err := load(context.Background(), s, 42, 3); err != nil {
		t.Fatal(err)
	}
	// One report more than asked for: whether the list goes on.
	if gotID != 42 || gotSitesID != 42 || gotLimit != 3+1 {
		t.Fatalf("reads got id=%d sites id=%d limit=%d, want 42, 42, 4", gotID, gotSitesID, gotLimit)
	}
}

func TestGrant_ProjectOutsideTheGrantIsExactlyNotFoundAndReadsNothing(t *testing.T) {
	var reads atomic.Int64
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			reads.Add(1)
			if id == 404 {
				return nil, model.ErrNotFound
			}
			return someProject(id), nil
		}),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			reads.Add(1)
			return nil, nil
		}),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			reads.Add(1)
			return nil, nil
		}),
	)
	granted := &auth.Principal{Subject: "s", Read: true, Projects: []uint64{3, 7}}
	if resp, err := loadAs(context.Background(), granted, s, 7, 10); err != nil || resp.Project.Id != 7 {
		t.Fatalf("granted project 7: %v, %v", resp, err)
	}
	_, missing := loadAs(context.Background(), auth.Anonymous, s, 404, 10)
	before := reads.Load()
	_, outside := loadAs(context.Background(), granted, s, 5, 10)
	if reads.Load() != before {
		t.Errorf("a project outside the grant was read from the database")
	}
	m, o := errs.Classify(missing), errs.Classify(outside)
	if o.Code != errs.NotFound || o.Status() != 404 {
		t.Fatalf("outside the grant: %s/%d, want not_found/404", o.Code, o.Status())
	}
	if strings.Replace(m.Message, "404", "5", 1) != o.Message {
		t.Fatalf("outside the grant says %q, a missing project says %q: they must read alike", o.Message, m.Message)
	}
	noScope := &auth.Principal{Subject: "s"}
	if _, err := loadAs(context.Background(), noScope, s, 7, 10); errs.Classify(err).Code != errs.NotFound {
		t.Fatalf("a caller without a project scope read project 7: %v", err)
	}
}

func TestGrant_NoCallerIsAnInternalErrorNotARead(t *testing.T) {
	s := newSvc(t, fakes.Project(nil), fakes.AllInstitutions(nil), fakes.LatestReports(nil))
	_, err := project.NewGetProjectDetailsLogic(context.Background(), s).GetProjectDetails(&types.ProjectDetailsReq{Id: 1, Reports: 10})
	if e := errs.Classify(err); e.Code != errs.Internal {
		t.Fatalf("no caller on the request: %v, want internal (deny by default)", err)
	}
}
