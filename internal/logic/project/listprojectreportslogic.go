// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package project

import (
	"context"

	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/represent"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// ListProjectReportsLogic answers GET /project/:id/reports.
type ListProjectReportsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// one page of a project's reports (newest first)
func NewListProjectReportsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *ListProjectReportsLogic {
	return &ListProjectReportsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

// ListProjectReports reads one page of the project's reports, newest
// first, and the project itself, concurrently on one server.
func (l *ListProjectReportsLogic) ListProjectReports(req *types.ProjectPageReq) (*types.ProjectReportsResp, error) {
	id, err := projectID(req.Id)
	if err != nil {
		return nil, err
	}
	limit, err := page.Limit(req.Limit)
	if err != nil {
		return nil, err
	}
	before, err := beforeReport(id, req.Cursor)
	if err != nil {
		return nil, err
	}
	if err := disclose(l.ctx, id); err != nil {
		return nil, err
	}
	var reports []*model.ProjectReport
	err = l.svcCtx.Store.Read(l.ctx, func(ctx context.Context, m *store.Models) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			return read(gctx, l.svcCtx, &projectRead, func(ctx context.Context) error { _, err := findProject(ctx, m, id); return err })
		})
		g.Go(func() error {
			return read(gctx, l.svcCtx, &reportsRead, func(ctx context.Context) (err error) {
				reports, err = m.ProjectReport.FindLatestByProjectID(ctx, id, before, limit+1)
				return err
			})
		})
		return g.Wait()
	})
	if err != nil {
		return nil, errs.Classify(err)
	}
	reports, next := reportCursor(id, reports, limit)
	return &types.ProjectReportsResp{Reports: represent.Reports(reports), NextCursor: next}, nil
}
