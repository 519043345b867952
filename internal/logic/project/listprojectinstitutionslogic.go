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

// ListProjectInstitutionsLogic answers GET /project/:id/institutions.
type ListProjectInstitutionsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// one page of a project's institutions (by name, then id)
func NewListProjectInstitutionsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *ListProjectInstitutionsLogic {
	return &ListProjectInstitutionsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

// ListProjectInstitutions reads one page of the project's institutions,
// and the project itself (a missing project is a 404, not an empty list),
// concurrently on one server.
func (l *ListProjectInstitutionsLogic) ListProjectInstitutions(req *types.ProjectPageReq) (*types.ProjectInstitutionsResp, error) {
	id, err := projectID(req.Id)
	if err != nil {
		return nil, err
	}
	limit, err := page.Limit(req.Limit)
	if err != nil {
		return nil, err
	}
	after, err := afterSite(id, req.Cursor)
	if err != nil {
		return nil, err
	}
	if err := disclose(l.ctx, id); err != nil {
		return nil, err
	}
	var institutions []*model.ProjectInstitutionDetail
	err = l.svcCtx.Store.Read(l.ctx, func(ctx context.Context, m *store.Models) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			return read(gctx, l.svcCtx, &projectRead, func(ctx context.Context) error { _, err := findProject(ctx, m, id); return err })
		})
		g.Go(func() error {
			return read(gctx, l.svcCtx, &institutionsRead, func(ctx context.Context) (err error) {
				institutions, err = m.ProjectInstitution.FindByProjectID(ctx, id, after, limit+1)
				return err
			})
		})
		return g.Wait()
	})
	if err != nil {
		return nil, errs.Classify(err)
	}
	institutions, next := siteCursor(id, institutions, limit)
	return &types.ProjectInstitutionsResp{Institutions: represent.Institutions(institutions), NextCursor: next}, nil
}
