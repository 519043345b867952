// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package logic

import (
	"context"

	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"

	"github.com/zeromicro/go-zero/core/logx"
)

type GetProjectDetailsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// a project with its institutions (by name, then id) and its latest reports (newest first)
func NewGetProjectDetailsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *GetProjectDetailsLogic {
	return &GetProjectDetailsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

func (l *GetProjectDetailsLogic) GetProjectDetails(req *types.ProjectDetailsReq) (resp *types.ProjectDetailsResp, err error) {
	// todo: add your logic here and delete this line

	return
}
