// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

package catalogue

import (
	"net/http"

	"github.com/clinicaldata/projectsvc/internal/handler/httpio"
	"github.com/clinicaldata/projectsvc/internal/logic/catalogue"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/zeromicro/go-zero/rest/httpx"
)

// the projects the caller may read, filtered, by id (or by last update with updated_since), one page at a time
func ListProjectsHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req types.ProjectListReq
		if err := httpio.Parse(r, &req); err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
			return
		}

		l := catalogue.NewListProjectsLogic(r.Context(), svcCtx)
		resp, err := l.ListProjects(&req)
		if err != nil {
			httpx.ErrorCtx(r.Context(), w, err)
		} else {
			httpio.OkJSON(w, r, resp)
		}
	}
}
