// Package project holds the logic of the project resource: the record (the
// concurrent fan-out of its three reads) and its two sub-lists.
package project

import (
	"context"
	"errors"
	"strconv"

	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/represent"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// The bounds of the reports query parameter (its default, 10, is in project.api).
const (
	MinReports = 1
	MaxReports = 100
)

// GetProjectDetailsLogic answers GET /project/:id.
type GetProjectDetailsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// NewGetProjectDetailsLogic returns the logic of one request.
func NewGetProjectDetailsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *GetProjectDetailsLogic {
	return &GetProjectDetailsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

// recordQuery is what a record request asks for.
type recordQuery struct {
	id                    uint64
	institutions, reports int
}

// GetProjectDetails validates the request, then loads the project, its
// first institutions and its latest reports; a list that goes on says so
// with a cursor for its sub-list.
func (l *GetProjectDetailsLogic) GetProjectDetails(req *types.ProjectDetailsReq) (*types.ProjectDetailsResp, error) {
	q := recordQuery{institutions: l.svcCtx.Config.Record.Institutions}
	var err error
	if q.id, err = projectID(req.Id); err != nil {
		return nil, err
	}
	if req.Reports < MinReports || req.Reports > MaxReports {
		return nil, errs.Newf(errs.InvalidArgument, "reports must be between %d and %d, got %d", MinReports, MaxReports, req.Reports)
	}
	q.reports = int(req.Reports)
	if req.Institutions != 0 {
		maxInstitutions := l.svcCtx.Config.Record.MaxInstitutions
		if req.Institutions < 1 || req.Institutions > int64(maxInstitutions) {
			return nil, errs.Newf(errs.InvalidArgument, "institutions must be between 1 and %d, got %d", maxInstitutions, req.Institutions)
		}
		q.institutions = int(req.Institutions)
	}
	if err := disclose(l.ctx, q.id); err != nil {
		return nil, err
	}
	if l.svcCtx.Coalesce == nil {
		return loadRecord(l.ctx, l.svcCtx, q)
	}
	return coalesced(l.ctx, l.svcCtx, q)
}

// coalesced joins an identical load already in flight instead of issuing
// its own (go-zero's SingleFlight): a hot project costs the database one
// fan-out per round trip, not one per client. A result is never older than
// a load that was already running when the request arrived; nothing is
// cached after the load ends. If the load this request joined was cut short
// by its leader's cancellation or deadline while this request still has
// time, this request loads again rather than inherit someone else's failure.
func coalesced(ctx context.Context, svcCtx *svc.ServiceContext, q recordQuery) (*types.ProjectDetailsResp, error) {
	key := strconv.FormatUint(q.id, 10) + "/" + strconv.Itoa(q.institutions) + "/" + strconv.Itoa(q.reports)
	for {
		v, err := svcCtx.Coalesce.Do(key, func() (any, error) {
			return loadRecord(ctx, svcCtx, q)
		})
		if err == nil {
			return v.(*types.ProjectDetailsResp), nil
		}
		if ctx.Err() == nil && isContextError(err) {
			continue // the leader gave up; this request has not
		}
		return nil, err
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// loadRecord reads the record from one server (the store picks it, and
// retries elsewhere if a replica goes away).
func loadRecord(ctx context.Context, svcCtx *svc.ServiceContext, q recordQuery) (*types.ProjectDetailsResp, error) {
	var resp *types.ProjectDetailsResp
	err := svcCtx.Store.Read(ctx, func(ctx context.Context, m *store.Models) (err error) {
		resp, err = fanOut(ctx, svcCtx, m, q)
		return err
	})
	return resp, err
}

// fanOut issues the record's three reads concurrently over one server's
// models. The first failure cancels the reads still running; the record is
// assembled only when all three succeeded, so it is never partial. Each
// list reads one item more than it shows: when there is one, the answer
// says where the sub-list goes on.
func fanOut(ctx context.Context, svcCtx *svc.ServiceContext, m *store.Models, q recordQuery) (*types.ProjectDetailsResp, error) {
	g, gctx := errgroup.WithContext(ctx)
	var (
		p            *model.Project
		institutions []*model.ProjectInstitutionDetail
		reports      []*model.ProjectReport
	)
	g.Go(func() error {
		return read(gctx, svcCtx, &projectRead, func(ctx context.Context) (err error) {
			p, err = findProject(ctx, m, q.id)
			return err
		})
	})
	g.Go(func() error {
		return read(gctx, svcCtx, &institutionsRead, func(ctx context.Context) (err error) {
			institutions, err = m.ProjectInstitution.FindByProjectID(ctx, q.id, nil, q.institutions+1)
			return err
		})
	})
	g.Go(func() error {
		return read(gctx, svcCtx, &reportsRead, func(ctx context.Context) (err error) {
			reports, err = m.ProjectReport.FindLatestByProjectID(ctx, q.id, nil, q.reports+1)
			return err
		})
	})
	if err := g.Wait(); err != nil {
		return nil, errs.Classify(err)
	}
	institutions, institutionsNext := siteCursor(q.id, institutions, q.institutions)
	reports, reportsNext := reportCursor(q.id, reports, q.reports)
	resp := represent.Record(p, institutions, reports)
	resp.InstitutionsNext, resp.ReportsNext = institutionsNext, reportsNext
	return resp, nil
}

// findProject reads the project row; a missing project is NotFound (404),
// never a nil record.
func findProject(ctx context.Context, m *store.Models, id uint64) (*model.Project, error) {
	project, err := m.Project.FindOne(ctx, id)
	if errors.Is(err, model.ErrNotFound) || (err == nil && project == nil) {
		return nil, notFound(id)
	}
	return project, err
}
