package logic

import (
	"context"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
)

// LoadProjectDetailsSerial issues the same three reads one after the other.
// It exists only as the benchmark's baseline (make bench), to measure what
// the concurrent fan-out of LoadProjectDetails saves; the service never
// calls it.
func LoadProjectDetailsSerial(ctx context.Context, svcCtx *svc.ServiceContext, id uint64, reports int) (*types.ProjectDetailsResp, error) {
	project, err := findProject(ctx, svcCtx, id)
	if err != nil {
		return nil, errs.Classify(err)
	}
	sites, err := svcCtx.InstitutionModel.FindAllByProjectID(ctx, id)
	if err != nil {
		return nil, errs.Classify(err)
	}
	latest, err := svcCtx.ReportModel.FindLatestByProjectID(ctx, id, reports)
	if err != nil {
		return nil, errs.Classify(err)
	}
	return toResponse(project, sites, latest), nil
}
