package catalogue_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/catalogue"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// catalogueTable is a ProjectModel whose FindPage pages projects (by id,
// or by (updated_at, id) with UpdatedSince) as the database does, and
// records the queries it is asked.
type catalogueTable struct {
	model.ProjectModel
	projects []*model.Project
	err      error

	mu      sync.Mutex
	queries []model.ProjectPageQuery
}

func (c *catalogueTable) FindPage(_ context.Context, q model.ProjectPageQuery) ([]*model.Project, error) {
	c.mu.Lock()
	c.queries = append(c.queries, q)
	c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	out := []*model.Project{}
	all := slices.Clone(c.projects)
	if q.UpdatedSince != nil {
		slices.SortStableFunc(all, func(a, b *model.Project) int {
			if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
				return c
			}
			return int(a.Id) - int(b.Id)
		})
	}
	for _, p := range all {
		switch {
		case q.Only != nil && !slices.Contains(q.Only, p.Id):
			continue
		case q.UpdatedSince != nil && p.UpdatedAt.Before(*q.UpdatedSince):
			continue
		case q.UpdatedSince == nil && p.Id <= q.AfterID:
			continue
		case q.UpdatedSince != nil && q.AfterID != 0 &&
			(p.UpdatedAt.Before(q.AfterUpdated) || (p.UpdatedAt.Equal(q.AfterUpdated) && p.Id <= q.AfterID)):
			continue
		}
		if len(out) == q.Limit {
			break
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *catalogueTable) last() model.ProjectPageQuery {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queries[len(c.queries)-1]
}

func (c *catalogueTable) asked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queries)
}

var t0 = time.Date(2024, 11, 2, 14, 5, 0, 0, time.UTC)

// projects are ids 1..n, project i updated at t0 + (n-i) minutes (the
// last by id is the first by update).
func projects(n int) []*model.Project {
	out := make([]*model.Project, n)
	for i := range out {
		id := uint64(i + 1)
		out[i] = &model.Project{Id: id, Code: "CTP-" + strconv.Itoa(i+1), Title: "t", Phase: "III", Status: "recruiting",
			CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(n-i) * time.Minute)}
	}
	return out
}

func newSvc(t *testing.T, table *catalogueTable) *svc.ServiceContext {
	t.Helper()
	table.ProjectModel = fakes.Project(nil)
	c := servicetest.Config(t, servicetest.NoDatabase, "Coalesce: false")
	s, err := svc.NewServiceContext(c, store.WithModels(func(m *store.Models) { m.Project = table }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// trail is an audit.Writer that commits at once.
type trail struct {
	mu   sync.Mutex
	rows []*model.AccessAudit
}

func (m *trail) AppendRows(rows []*model.AccessAudit) <-chan error {
	m.mu.Lock()
	m.rows = append(m.rows, rows...)
	m.mu.Unlock()
	done := make(chan error, 1)
	done <- nil
	return done
}

func (m *trail) AppendOutcome(*model.AccessAuditOutcome) <-chan error {
	done := make(chan error, 1)
	done <- nil
	return done
}

// disclosed are the projects the rows name, and the grant of each.
func (m *trail) disclosed() (ids []uint64, grants []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.rows {
		if r.ProjectId.Valid {
			ids = append(ids, uint64(r.ProjectId.Int64))
		}
		grants = append(grants, r.GrantedBy)
	}
	return ids, grants
}

// audited is a request's context for caller with its record armed to tr.
func audited(caller *auth.Principal, tr *trail) (context.Context, *audit.Record) {
	ctx, rec := audit.Begin(httptest.NewRequest(http.MethodGet, "/projects", nil))
	rec.SetRoute("/projects")
	ctx = audit.Arm(ctx, tr)
	return auth.Attach(ctx, caller), rec
}

func list(ctx context.Context, s *svc.ServiceContext, req types.ProjectListReq) (*types.ProjectListResp, error) {
	if req.Limit == 0 {
		req.Limit = 20
	}
	return catalogue.NewListProjectsLogic(ctx, s).ListProjects(&req)
}

func listAs(s *svc.ServiceContext, p *auth.Principal, req types.ProjectListReq) (*types.ProjectListResp, error) {
	return list(auth.Attach(context.Background(), p), s, req)
}

func ids(resp *types.ProjectListResp) []uint64 {
	out := make([]uint64, len(resp.Projects))
	for i, p := range resp.Projects {
		out[i] = p.Id
	}
	return out
}

func wantInvalid(t *testing.T, err error, mentions string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidArgument || !strings.Contains(e.Message, mentions) {
		t.Fatalf("err = %v, want invalid_argument mentioning %q", err, mentions)
	}
}

func TestListProjects_PagesThroughEveryProjectOnceInIDOrder(t *testing.T) {
	table := &catalogueTable{projects: projects(7)}
	s := newSvc(t, table)
	var seen []uint64
	req := types.ProjectListReq{Limit: 3}
	for pages := 1; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages: the cursor does not move the list on")
		}
		resp, err := listAs(s, auth.Anonymous, req)
		if err != nil {
			t.Fatal(err)
		}
		if q := table.last(); q.Limit != 4 {
			t.Fatalf("asked the model for %d projects, want limit+1 = 4 (is there a next page?)", q.Limit)
		}
		if len(resp.Projects) > 3 {
			t.Fatalf("page %d has %d projects, limit 3", pages, len(resp.Projects))
		}
		seen = append(seen, ids(resp)...)
		if resp.NextCursor == nil {
			if pages != 3 {
				t.Fatalf("%d pages of 3 for 7 projects, want 3", pages)
			}
			break
		}
		req.Cursor = *resp.NextCursor
	}
	if !slices.Equal(seen, []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("pages listed %v, want 1..7 once each, in order", seen)
	}
}

func TestListProjects_AFullLastPageHasNoNextCursor(t *testing.T) {
	s := newSvc(t, &catalogueTable{projects: projects(3)})
	resp, err := listAs(s, auth.Anonymous, types.ProjectListReq{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(resp), []uint64{1, 2, 3}) || resp.NextCursor != nil {
		t.Fatalf("page %v, next %v: want all three and no next page", ids(resp), resp.NextCursor)
	}
	resp, err = listAs(s, auth.Anonymous, types.ProjectListReq{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(resp), []uint64{1, 2}) || resp.NextCursor == nil {
		t.Fatalf("page %v, next %v: want 1, 2 and a next page", ids(resp), resp.NextCursor)
	}
}

func TestListProjects_ByLastUpdateTheCursorCarriesTheUpdateTime(t *testing.T) {
	table := &catalogueTable{projects: projects(5)} // by update: 5, 4, 3, 2, 1
	s := newSvc(t, table)
	req := types.ProjectListReq{Limit: 2, UpdatedSince: "2024-11-02T16:05:00+02:00"} // = t0
	var seen []uint64
	for range 5 {
		resp, err := listAs(s, auth.Anonymous, req)
		if err != nil {
			t.Fatal(err)
		}
		q := table.last()
		if q.UpdatedSince == nil || !q.UpdatedSince.Equal(t0) || q.UpdatedSince.Location() != time.UTC {
			t.Fatalf("updated_since reached the model as %v, want %s in UTC", q.UpdatedSince, t0)
		}
		seen = append(seen, ids(resp)...)
		if resp.NextCursor == nil {
			break
		}
		req.Cursor = *resp.NextCursor
	}
	if !slices.Equal(seen, []uint64{5, 4, 3, 2, 1}) {
		t.Fatalf("pages by last update listed %v, want 5 4 3 2 1", seen)
	}
	if q := table.last(); q.AfterID != 2 || !q.AfterUpdated.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("the last page continued after (%s, %d), want (t0+4m, 2): project 2's key", q.AfterUpdated, q.AfterID)
	}
}

func TestListProjects_ACallerSeesOnlyTheProjectsOfItsGrant(t *testing.T) {
	table := &catalogueTable{projects: projects(9)}
	s := newSvc(t, table)
	some := &auth.Principal{Subject: "s", ClientID: "c", Read: true, Projects: []uint64{2, 5, 8}}
	tr := &trail{}
	ctx, _ := audited(some, tr)
	resp, err := list(ctx, s, types.ProjectListReq{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(resp), []uint64{2, 5}) || !slices.Equal(table.last().Only, []uint64{2, 5, 8}) {
		t.Fatalf("page %v (model asked for only %v), want 2, 5 of the grant 2, 5, 8", ids(resp), table.last().Only)
	}
	if got, grants := tr.disclosed(); !slices.Equal(got, []uint64{2, 5}) || !slices.Equal(grants, []string{auth.ScopeRead, auth.ScopeRead}) {
		t.Fatalf("audited %v by %v, want the page's projects 2, 5 (not the one read ahead) by %s", got, grants, auth.ScopeRead)
	}

	all := &auth.Principal{Subject: "a", ClientID: "c", ReadAll: true, Read: true, Projects: []uint64{2}}
	tr = &trail{}
	ctx, _ = audited(all, tr)
	if resp, err = list(ctx, s, types.ProjectListReq{Limit: 3}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(resp), []uint64{1, 2, 3}) || table.last().Only != nil {
		t.Fatalf("project:read:all: page %v, model filter %v: want every project, unfiltered", ids(resp), table.last().Only)
	}
	if got, grants := tr.disclosed(); !slices.Equal(got, []uint64{1, 2, 3}) || grants[0] != auth.ScopeReadAll {
		t.Fatalf("audited %v by %v, want 1, 2, 3 by %s", got, grants, auth.ScopeReadAll)
	}
}

// TestListProjects_ACallerWithoutProjectsSeesNone: a grant of no projects
// is an empty filter (nothing), never a missing one (everything).
func TestListProjects_ACallerWithoutProjectsSeesNone(t *testing.T) {
	table := &catalogueTable{projects: projects(4)}
	s := newSvc(t, table)
	for name, p := range map[string]*auth.Principal{
		"readOfNone":   {Subject: "s", Read: true},
		"refusedGrant": {Subject: "s", GrantRefused: "project_ids holds \"x\""},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := listAs(s, p, types.ProjectListReq{})
			if err != nil {
				t.Fatal(err)
			}
			if only := table.last().Only; only == nil || len(only) != 0 || len(resp.Projects) != 0 || resp.NextCursor != nil {
				t.Fatalf("model filter %v, page %v: want an empty, non-nil filter and an empty page", only, ids(resp))
			}
		})
	}
}

func TestListProjects_WithoutACallerIsAnInternalErrorNotAPage(t *testing.T) {
	table := &catalogueTable{projects: projects(2)}
	s := newSvc(t, table)
	resp, err := list(context.Background(), s, types.ProjectListReq{})
	if code := errs.Classify(err).Code; code != errs.Internal || resp != nil || table.asked() != 0 {
		t.Fatalf("resp %v, err %v: want internal and nothing read", resp, err)
	}
}

func TestListProjects_AReadFailureIsClassified(t *testing.T) {
	s := newSvc(t, &catalogueTable{err: context.DeadlineExceeded})
	resp, err := listAs(s, auth.Anonymous, types.ProjectListReq{})
	if code := errs.Classify(err).Code; code != errs.Timeout || resp != nil {
		t.Fatalf("resp %v, err %v: want timeout", resp, err)
	}
}

// TestListProjects_NothingIsListedOnceTheAnswerIsDecided: when the deadline
// answered first (the record finished), the page is not disclosed.
func TestListProjects_NothingIsListedOnceTheAnswerIsDecided(t *testing.T) {
	s := newSvc(t, &catalogueTable{projects: projects(2)})
	tr := &trail{}
	ctx, rec := audited(&auth.Principal{Subject: "s", ClientID: "c", ReadAll: true}, tr)
	if err := rec.Finish(http.StatusGatewayTimeout); err != nil {
		t.Fatal(err)
	}
	resp, err := list(ctx, s, types.ProjectListReq{})
	if code := errs.Classify(err).Code; code != errs.Timeout || resp != nil {
		t.Fatalf("resp %v, err %v: want timeout and no page", resp, err)
	}
	if got, _ := tr.disclosed(); len(got) != 0 {
		t.Fatalf("disclosed %v after the answer was decided", got)
	}
}

func TestListProjects_FiltersReachTheModel(t *testing.T) {
	table := &catalogueTable{projects: projects(1)}
	s := newSvc(t, table)
	_, err := listAs(s, auth.Anonymous, types.ProjectListReq{Status: "recruiting", Phase: "III", Sponsor: "Acme", Country: "DE", Institution: "12"})
	if err != nil {
		t.Fatal(err)
	}
	q := table.last()
	if q.Status != "recruiting" || q.Phase != "III" || q.Sponsor != "Acme" || q.Country != "DE" || q.Institution != 12 ||
		q.UpdatedSince != nil || q.AfterID != 0 || q.Limit != 21 {
		t.Fatalf("model query %+v", q)
	}
}

// TestListProjects_FiltersAtMostAsLongAsTheirColumns: each filter may be as
// long as its column (in characters, not bytes), and no longer.
func TestListProjects_FiltersAtMostAsLongAsTheirColumns(t *testing.T) {
	s := newSvc(t, &catalogueTable{projects: projects(1)})
	for _, f := range []struct {
		name  string
		chars int
		set   func(*types.ProjectListReq, string)
	}{
		{"status", 32, func(r *types.ProjectListReq, v string) { r.Status = v }},
		{"phase", 16, func(r *types.ProjectListReq, v string) { r.Phase = v }},
		{"sponsor", 255, func(r *types.ProjectListReq, v string) { r.Sponsor = v }},
		{"country", 64, func(r *types.ProjectListReq, v string) { r.Country = v }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var req types.ProjectListReq
			f.set(&req, strings.Repeat("é", f.chars)) // 2 bytes a character
			if _, err := listAs(s, auth.Anonymous, req); err != nil {
				t.Fatalf("%d characters: %v, want accepted", f.chars, err)
			}
			f.set(&req, strings.Repeat("e", f.chars+1))
			_, err := listAs(s, auth.Anonymous, req)
			wantInvalid(t, err, f.name+" is at most "+strconv.Itoa(f.chars)+" characters")
			f.set(&req, "ok\xff")
			_, err = listAs(s, auth.Anonymous, req)
			wantInvalid(t, err, f.name+" is at most")
		})
	}
}

func TestListProjects_InstitutionMustBeAnIDWrittenPlainly(t *testing.T) {
	s := newSvc(t, &catalogueTable{projects: projects(1)})
	for _, bad := range []string{"0", "-1", "+1", "012", "1.0", "abc", " 1", "9223372036854775808"} {
		_, err := listAs(s, auth.Anonymous, types.ProjectListReq{Institution: bad})
		wantInvalid(t, err, `institution must be an institution id (a positive integer written plainly), got "`+bad+`"`)
	}
	long := strings.Repeat("9", 39) + "é" + strings.Repeat("x", 20)
	_, err := listAs(s, auth.Anonymous, types.ProjectListReq{Institution: long})
	wantInvalid(t, err, `got "`+strings.Repeat("9", 39)+`..."`)
	exact := strings.Repeat("x", 40)
	_, err = listAs(s, auth.Anonymous, types.ProjectListReq{Institution: exact})
	wantInvalid(t, err, `got "`+exact+`"`)
	if _, err := listAs(s, auth.Anonymous, types.ProjectListReq{Institution: "9223372036854775807"}); err != nil {
		t.Fatalf("the largest id: %v", err)
	}
}

func TestListProjects_UpdatedSinceMustBeAnRFC3339Time(t *testing.T) {
	s := newSvc(t, &catalogueTable{projects: projects(1)})
	for _, bad := range []string{"2024-11-02", "yesterday", "2024-11-02 14:05:00Z", "1730556300"} {
		_, err := listAs(s, auth.Anonymous, types.ProjectListReq{UpdatedSince: bad})
		wantInvalid(t, err, "updated_since must be an RFC 3339 time")
	}
}

func TestListProjects_LimitIsBounded(t *testing.T) {
	table := &catalogueTable{projects: projects(1)}
	s := newSvc(t, table)
	for _, bad := range []int64{-1, 101} {
		_, err := listAs(s, auth.Anonymous, types.ProjectListReq{Limit: bad})
		wantInvalid(t, err, "limit must be between 1 and 100")
	}
	if table.asked() != 0 {
		t.Fatal("an invalid request reached the model")
	}
}

// TestListProjects_ACursorBelongsToItsFilters: a cursor continues the list
// it came from; with other filters, or forged, it is refused.
func TestListProjects_ACursorBelongsToItsFilters(t *testing.T) {
	table := &catalogueTable{projects: projects(5)}
	s := newSvc(t, table)
	first, err := listAs(s, auth.Anonymous, types.ProjectListReq{Limit: 2, Status: "recruiting"})
	if err != nil || first.NextCursor == nil {
		t.Fatalf("first page: %v %v", first, err)
	}
	for name, req := range map[string]types.ProjectListReq{
		"otherStatus":       {Status: "completed"},
		"addedFilter":       {Status: "recruiting", Phase: "III"},
		"otherInstitution":  {Status: "recruiting", Institution: "3"},
		"byLastUpdate":      {Status: "recruiting", UpdatedSince: "2024-11-02T14:05:00Z"},
		"statusAsCountry":   {Country: "recruiting"},
		"statusAsSponsor":   {Sponsor: "recruiting"},
		"statusAsPhase":     {Phase: "recruiting"},
		"statusAsUpdatedAt": {UpdatedSince: "recruiting"},
	} {
		req.Cursor = *first.NextCursor
		if _, err := listAs(s, auth.Anonymous, req); err == nil {
			t.Errorf("%s: the cursor of status=recruiting was accepted", name)
		}
	}
	resp, err := listAs(s, auth.Anonymous, types.ProjectListReq{Limit: 2, Status: "recruiting", Cursor: *first.NextCursor})
	if err != nil || !slices.Equal(ids(resp), []uint64{3, 4}) || table.last().AfterID != 2 {
		t.Fatalf("second page %v (after %d), %v: want 3, 4 after 2", resp, table.last().AfterID, err)
	}
}

// TestListProjects_RefusesACursorWhoseKeyIsNoProjects: a cursor of the
// right list whose key is not an id (or, by last update, not a time) is
// refused, not read as the first page.
func TestListProjects_RefusesACursorWhoseKeyIsNoProjects(t *testing.T) {
	table := &catalogueTable{projects: projects(3)}
	s := newSvc(t, table)
	const since = "2024-11-02T14:05:00Z"
	byID := page.For("/projects", "", "", "", "", "", "")
	byUpdate := page.For("/projects", "", "", "", "", "", since)
	for name, tc := range map[string]struct {
		cursor *string
		since  string
	}{
		"idZero":        {byID.Next("0"), ""},
		"idNotANumber":  {byID.Next("x"), ""},
		"idNegative":    {byID.Next("-1"), ""},
		"timeNotATime":  {byUpdate.Next("3", "yesterday"), since},
		"timeIdZero":    {byUpdate.Next("0", "2024-11-02T14:06:00Z"), since},
		"timeIdNotANum": {byUpdate.Next("x", "2024-11-02T14:06:00Z"), since},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := listAs(s, auth.Anonymous, types.ProjectListReq{Cursor: *tc.cursor, UpdatedSince: tc.since})
			wantInvalid(t, err, "cursor is not a cursor this service handed out")
		})
	}
	if table.asked() != 0 {
		t.Fatal("a forged cursor reached the model")
	}
	if _, err := listAs(s, auth.Anonymous, types.ProjectListReq{Cursor: *byID.Next("2")}); err != nil || table.last().AfterID != 2 {
		t.Fatalf("a well-formed cursor: %v (after %d)", err, table.last().AfterID)
	}
	if _, err := listAs(s, auth.Anonymous, types.ProjectListReq{Cursor: *byUpdate.Next("2", "2024-11-02T14:06:00.5Z"), UpdatedSince: since}); err != nil ||
		table.last().AfterID != 2 || !table.last().AfterUpdated.Equal(t0.Add(time.Minute+500*time.Millisecond)) {
		t.Fatalf("a well-formed cursor by update: %v (after %+v)", err, table.last())
	}
}
