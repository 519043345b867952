// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package project

import (
	"net/http"

	"github.com/clinicaldata/projectsvc/internal/handler/httpio"
	"github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/zeromicro/go-zero/rest/httpx"
)

// one page of a project's reports (newest first)
func ListProjectReportsHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req types.ProjectPageReq
		if err := httpio.Parse(r, &req); err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}

		l := project.NewListProjectReportsLogic(r.Context(), svcCtx)
		resp, err := l.ListProjectReports(&req)
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
		} else {
			httpio.OkJSON(w, r, resp)
		}
	}
}
