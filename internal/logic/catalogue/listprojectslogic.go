// Code scaffolded by goctl. Safe to edit.
// goctl 1.10.2

// Package catalogue holds the logic of GET /projects: the projects the
// caller may read, filtered, one page at a time.
package catalogue

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/represent"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// ListProjectsLogic answers GET /projects.
type ListProjectsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// the projects the caller may read, filtered, by id (or by last update with updated_since), one page at a time
func NewListProjectsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *ListProjectsLogic {
	return &ListProjectsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

// route names the list in its cursors.
const route = "/projects"

// ListProjects reads one page of the projects the caller's grant covers
// (project:read:all: all of them; project:read: its project_ids — nothing
// on the page, not even a count, hints at others), filtered, in id order
// (with updated_since: by last update, then id), and declares every project
// on it to the audit trail.
func (l *ListProjectsLogic) ListProjects(req *types.ProjectListReq) (*types.ProjectListResp, error) {
	q, list, err := query(req)
	if err != nil {
		return nil, err
	}
	caller := auth.From(l.ctx)
	if caller == nil {
		return nil, errs.New(errs.Internal, "", errors.New("no caller on the request: the Auth middleware did not run"))
	}
	grant := auth.ScopeReadAll
	if !caller.ReadAll {
		grant, q.Only = auth.ScopeRead, caller.Projects
		if q.Only == nil {
			q.Only = []uint64{}
		}
	}
	limit := q.Limit
	q.Limit++ // one more: is there a next page?
	var projects []*model.Project
	err = l.svcCtx.Store.Read(l.ctx, func(ctx context.Context, m *store.Models) (err error) {
		projects, err = m.Project.FindPage(ctx, q)
		return err
	})
	if err != nil {
		return nil, errs.Classify(err)
	}
	resp := &types.ProjectListResp{}
	if len(projects) > limit {
		projects = projects[:limit]
		last := projects[limit-1]
		key := []string{strconv.FormatUint(last.Id, 10)}
		if q.UpdatedSince != nil {
			key = append(key, last.UpdatedAt.UTC().Format(time.RFC3339Nano))
		}
		resp.NextCursor = list.Next(key...)
	}
	ids := make([]uint64, len(projects))
	for i, p := range projects {
		ids[i] = p.Id
	}
	if err := audit.Disclose(l.ctx, grant, ids...); err != nil {
		return nil, errs.New(errs.Timeout, "", err) // the deadline answered already
	}
	resp.Projects = represent.Projects(projects)
	return resp, nil
}

// The longest values the filters' columns hold (sql/schema.sql): a longer
// one matches nothing, and is refused as the mistake it is.
var filterColumns = []struct {
	name  string
	chars int
}{{"status", 32}, {"phase", 16}, {"sponsor", 255}, {"country", 64}}

// query checks a request and turns it into the model's page query and the
// list its cursors name.
func query(req *types.ProjectListReq) (model.ProjectPageQuery, page.List, error) {
	var q model.ProjectPageQuery
	limit, err := page.Limit(req.Limit)
	if err != nil {
		return q, page.List{}, err
	}
	q.Limit = limit
	for i, v := range []string{req.Status, req.Phase, req.Sponsor, req.Country} {
		f := filterColumns[i]
		if n := utf8.RuneCountInString(v); n > f.chars || !utf8.ValidString(v) {
			return q, page.List{}, errs.Newf(errs.InvalidArgument, "%s is at most %d characters of UTF-8, got %d bytes", f.name, f.chars, len(v))
		}
	}
	q.Status, q.Phase, q.Sponsor, q.Country = req.Status, req.Phase, req.Sponsor, req.Country
	if req.Institution != "" {
		id, err := strconv.ParseUint(req.Institution, 10, 63)
		if err != nil || id == 0 || strconv.FormatUint(id, 10) != req.Institution {
			return q, page.List{}, errs.Newf(errs.InvalidArgument, "institution must be an institution id (a positive integer written plainly), got %q", truncate(req.Institution))
		}
		q.Institution = id
	}
	if req.UpdatedSince != "" {
		since, err := time.Parse(time.RFC3339Nano, req.UpdatedSince)
		if err != nil {
			return q, page.List{}, errs.Newf(errs.InvalidArgument, "updated_since must be an RFC 3339 time such as 2024-11-02T14:05:00Z, got %q", truncate(req.UpdatedSince))
		}
		since = since.UTC()
		q.UpdatedSince = &since
	}
	list := page.For(route, req.Status, req.Phase, req.Sponsor, req.Country, req.Institution, req.UpdatedSince)
	parts := 1
	if q.UpdatedSince != nil {
		parts = 2
	}
	after, err := list.After(req.Cursor, parts)
	if err != nil || after == nil {
		return q, list, err
	}
	id, err := strconv.ParseUint(after[0], 10, 64)
	if err == nil && q.UpdatedSince != nil {
		q.AfterUpdated, err = time.Parse(time.RFC3339Nano, after[1])
	}
	if err != nil || id == 0 {
		return q, list, errs.Newf(errs.InvalidArgument, "cursor is not a cursor this service handed out: start again without it")
	}
	q.AfterID = id
	return q, list, nil
}

// truncate bounds how much of a client's input is quoted back.
func truncate(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "..."
	}
	return s
}
