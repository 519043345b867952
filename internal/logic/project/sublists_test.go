package project_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// project7 is a project with sites and reports: the fakes below page them
// as the database does (sites by name then id, reports newest first), and
// count and record what each read is asked.
type project7 struct {
	sites   []*model.ProjectInstitutionDetail
	reports []*model.ProjectReport

	mu           sync.Mutex
	siteLimits   []int
	siteAfter    []*model.SiteKey
	reportLimits []int
	reportBefore []*model.ReportKey
	reads        atomic.Int64
	// failures of the reads (nil: succeed)
	projectErr, sitesErr, reportsErr error
}

var r0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

func newProject7() *project7 {
	p := &project7{}
	for i, name := range []string{"Charité", "Ambroise Paré", "Karolinska", "Ambroise Paré", "Bellvitge"} {
		p.sites = append(p.sites, &model.ProjectInstitutionDetail{Id: uint64(10 + i), Name: name, Code: "S" + strconv.Itoa(i), JoinedAt: r0})
	}
	slices.SortFunc(p.sites, func(a, b *model.ProjectInstitutionDetail) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Id, b.Id))
	})
	for i := range 5 {
		// two reports share a creation time: the id breaks the tie
		at := r0.Add(time.Duration(min(i, 3)) * time.Hour)
		p.reports = append(p.reports, &model.ProjectReport{Id: uint64(100 + i), ProjectId: 7, Title: "r", ReportType: "safety", CreatedAt: at})
	}
	slices.SortFunc(p.reports, func(a, b *model.ProjectReport) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Id, a.Id))
	})
	return p
}

func (p *project7) svc(t *testing.T) *svc.ServiceContext {
	return newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			p.reads.Add(1)
			if p.projectErr != nil {
				return nil, p.projectErr
			}
			if id != 7 {
				return nil, model.ErrNotFound
			}
			return someProject(id), nil
		}),
		fakes.ProjectInstitution(func(ctx context.Context, id uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error) {
			p.reads.Add(1)
			p.mu.Lock()
			p.siteLimits, p.siteAfter = append(p.siteLimits, limit), append(p.siteAfter, after)
			p.mu.Unlock()
			if p.sitesErr != nil {
				return nil, p.sitesErr
			}
			out := []*model.ProjectInstitutionDetail{}
			for _, s := range p.sites {
				if id != 7 || (after != nil && (s.Name < after.Name || (s.Name == after.Name && s.Id <= after.Id))) {
					continue
				}
				if len(out) < limit {
					out = append(out, s)
				}
			}
			return out, nil
		}),
		fakes.ProjectReport(func(ctx context.Context, id uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error) {
			p.reads.Add(1)
			p.mu.Lock()
			p.reportLimits, p.reportBefore = append(p.reportLimits, limit), append(p.reportBefore, before)
			p.mu.Unlock()
			if p.reportsErr != nil {
				return nil, p.reportsErr
			}
			out := []*model.ProjectReport{}
			for _, r := range p.reports {
				if id != 7 || (before != nil && (r.CreatedAt.After(before.CreatedAt) || (r.CreatedAt.Equal(before.CreatedAt) && r.Id >= before.Id))) {
					continue
				}
				if len(out) < limit {
					out = append(out, r)
				}
			}
			return out, nil
		}),
	)
}

func (p *project7) lastSiteRead() (int, *model.SiteKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.siteLimits[len(p.siteLimits)-1], p.siteAfter[len(p.siteAfter)-1]
}

func (p *project7) lastReportRead() (int, *model.ReportKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reportLimits[len(p.reportLimits)-1], p.reportBefore[len(p.reportBefore)-1]
}

func sites(ctx context.Context, s *svc.ServiceContext, id int64, limit int64, cursor string) (*types.ProjectInstitutionsResp, error) {
	return project.NewListProjectInstitutionsLogic(ctx, s).ListProjectInstitutions(&types.ProjectPageReq{Id: id, Limit: limit, Cursor: cursor})
}

func reports(ctx context.Context, s *svc.ServiceContext, id int64, limit int64, cursor string) (*types.ProjectReportsResp, error) {
	return project.NewListProjectReportsLogic(ctx, s).ListProjectReports(&types.ProjectPageReq{Id: id, Limit: limit, Cursor: cursor})
}

func anon() context.Context { return auth.Attach(context.Background(), auth.Anonymous) }

func siteIDs(list []types.ProjectInstitution) []uint64 {
	out := []uint64{}
	for _, s := range list {
		out = append(out, s.Id)
	}
	return out
}

func reportIDs(list []types.ProjectReport) []uint64 {
	out := []uint64{}
	for _, r := range list {
		out = append(out, r.Id)
	}
	return out
}

func wantCode(t *testing.T, err error, code errs.Code, mentions string) {
	t.Helper()
	e := errs.Classify(err)
	if e == nil || e.Code != code || !strings.Contains(e.Message, mentions) {
		t.Fatalf("err = %v, want %s mentioning %q", err, code, mentions)
	}
}

func TestListProjectInstitutions_PagesEverySiteOnceByNameThenID(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	var seen []uint64
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages: the cursor does not move the list on")
		}
		resp, err := sites(anon(), s, 7, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if limit, _ := p.lastSiteRead(); limit != 3 {
			t.Fatalf("the page read %d sites, want limit+1 = 3 (is there a next page?)", limit)
		}
		if len(resp.Institutions) > 2 {
			t.Fatalf("page %d has %d sites, limit 2", pages, len(resp.Institutions))
		}
		seen = append(seen, siteIDs(resp.Institutions)...)
		if resp.NextCursor == nil {
			if pages != 3 {
				t.Fatalf("%d pages of 2 for 5 sites, want 3", pages)
			}
			break
		}
		cursor = *resp.NextCursor
	}
	want := []uint64{}
	for _, x := range p.sites {
		want = append(want, x.Id)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("pages listed %v, want %v (by name, then id), each once", seen, want)
	}
	if _, after := p.lastSiteRead(); after == nil || after.Name != p.sites[3].Name || after.Id != p.sites[3].Id {
		t.Fatalf("the last page started after %+v, want the 4th site's key", after)
	}
}

func TestListProjectReports_PagesEveryReportOnceNewestFirst(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	var seen []uint64
	cursor := ""
	for pages := 1; ; pages++ {
		if pages > 10 {
			t.Fatal("more than 10 pages: the cursor does not move the list on")
		}
		resp, err := reports(anon(), s, 7, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if limit, _ := p.lastReportRead(); limit != 3 {
			t.Fatalf("the page read %d reports, want limit+1 = 3", limit)
		}
		seen = append(seen, reportIDs(resp.Reports)...)
		if resp.NextCursor == nil {
			if pages != 3 {
				t.Fatalf("%d pages of 2 for 5 reports, want 3", pages)
			}
			break
		}
		cursor = *resp.NextCursor
	}
	if !slices.Equal(seen, []uint64{104, 103, 102, 101, 100}) {
		t.Fatalf("pages listed %v, want 104 103 102 101 100 (newest first, id breaking the tie)", seen)
	}
	if _, before := p.lastReportRead(); before == nil || before.Id != 101 || !before.CreatedAt.Equal(r0.Add(time.Hour)) {
		t.Fatalf("the last page started before %+v, want report 101's key", before)
	}
}

func TestSubLists_AFullLastPageHasNoNextCursor(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	sr, err := sites(anon(), s, 7, 5, "")
	if err != nil || len(sr.Institutions) != 5 || sr.NextCursor != nil {
		t.Fatalf("5 sites, limit 5: %v, %v: want all and no next page", sr, err)
	}
	rr, err := reports(anon(), s, 7, 5, "")
	if err != nil || len(rr.Reports) != 5 || rr.NextCursor != nil {
		t.Fatalf("5 reports, limit 5: %v, %v: want all and no next page", rr, err)
	}
}

func TestSubLists_RefuseABadIDOrLimitBeforeReading(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	for _, tc := range []struct {
		id, limit int64
		mentions  string
	}{
		{0, 2, "id must be a positive integer, got 0"},
		{-7, 2, "id must be a positive integer, got -7"},
		{7, 0, "limit must be between 1 and 100"},
		{7, 101, "limit must be between 1 and 100"},
	} {
		_, err := sites(anon(), s, tc.id, tc.limit, "")
		wantCode(t, err, errs.InvalidArgument, tc.mentions)
		_, err = reports(anon(), s, tc.id, tc.limit, "")
		wantCode(t, err, errs.InvalidArgument, tc.mentions)
	}
	if n := p.reads.Load(); n != 0 {
		t.Fatalf("%d reads for invalid requests, want none", n)
	}
}

// TestSubLists_ACursorContinuesOnlyItsOwnProjectsList: a cursor of
// another project's (or the other sub-list's), or one whose key is not
// this list's, is refused.
func TestSubLists_ACursorContinuesOnlyItsOwnProjectsList(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	sites7, reports7 := page.For("/project/:id/institutions", "7"), page.For("/project/:id/reports", "7")
	for name, cursor := range map[string]*string{
		"anotherProjects":  page.For("/project/:id/institutions", "8").Next("Charité", "10"),
		"theReportsList":   reports7.Next(r0.Format(time.RFC3339Nano), "100"),
		"idNotANumber":     sites7.Next("Charité", "x"),
		"oneKeyPart":       sites7.Next("Charité"),
		"notACursorAtAll":  new("garbage"),
		"negativeSiteID":   sites7.Next("Charité", "-1"),
		"siteIDOutOfRange": sites7.Next("Charité", "18446744073709551616"),
	} {
		t.Run("sites/"+name, func(t *testing.T) {
			_, err := sites(anon(), s, 7, 2, *cursor)
			wantCode(t, err, errs.InvalidArgument, "cursor")
		})
	}
	for name, cursor := range map[string]*string{
		"anotherProjects": page.For("/project/:id/reports", "8").Next(r0.Format(time.RFC3339Nano), "100"),
		"theSitesList":    sites7.Next("Charité", "10"),
		"timeNotATime":    reports7.Next("yesterday", "100"),
		"idNotANumber":    reports7.Next(r0.Format(time.RFC3339Nano), "x"),
		"bothBad":         reports7.Next("yesterday", "x"),
	} {
		t.Run("reports/"+name, func(t *testing.T) {
			_, err := reports(anon(), s, 7, 2, *cursor)
			wantCode(t, err, errs.InvalidArgument, "cursor")
		})
	}
	if n := p.reads.Load(); n != 0 {
		t.Fatalf("%d reads for refused cursors, want none", n)
	}
	if resp, err := sites(anon(), s, 7, 2, *sites7.Next("Bellvitge", "14")); err != nil || len(resp.Institutions) != 2 || resp.Institutions[0].Name != "Charité" {
		t.Fatalf("a cursor of project 7's sites after Bellvitge: %v, %v", resp, err)
	}
}

func TestSubLists_AMissingProjectIsNotFoundNotAnEmptyList(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	_, err := sites(anon(), s, 8, 2, "")
	wantCode(t, err, errs.NotFound, "project 8 does not exist")
	_, err = reports(anon(), s, 8, 2, "")
	wantCode(t, err, errs.NotFound, "project 8 does not exist")
}

func TestSubLists_AProjectOutsideTheGrantIsNotFoundAndReadsNothing(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	other := auth.Attach(context.Background(), &auth.Principal{Subject: "s", Read: true, Projects: []uint64{3}})
	_, err := sites(other, s, 7, 2, "")
	wantCode(t, err, errs.NotFound, "project 7 does not exist")
	_, err = reports(other, s, 7, 2, "")
	wantCode(t, err, errs.NotFound, "project 7 does not exist")
	if n := p.reads.Load(); n != 0 {
		t.Fatalf("%d reads of a project outside the grant", n)
	}
	granted := auth.Attach(context.Background(), &auth.Principal{Subject: "s", Read: true, Projects: []uint64{7}})
	if _, err := sites(granted, s, 7, 2, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := reports(granted, s, 7, 2, ""); err != nil {
		t.Fatal(err)
	}
}

func TestSubLists_WithoutACallerIsInternalAndReadsNothing(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	_, err := sites(context.Background(), s, 7, 2, "")
	wantCode(t, err, errs.Internal, "")
	_, err = reports(context.Background(), s, 7, 2, "")
	wantCode(t, err, errs.Internal, "")
	if n := p.reads.Load(); n != 0 {
		t.Fatalf("%d reads without a caller", n)
	}
}

func TestSubLists_AFailedReadIsClassifiedAndNoPageIsReturned(t *testing.T) {
	for name, setup := range map[string]func(*project7){
		"projectRead": func(p *project7) { p.projectErr = context.DeadlineExceeded },
		"listRead":    func(p *project7) { p.sitesErr, p.reportsErr = context.DeadlineExceeded, context.DeadlineExceeded },
	} {
		t.Run(name, func(t *testing.T) {
			p := newProject7()
			setup(p)
			s := p.svc(t)
			sr, err := sites(anon(), s, 7, 2, "")
			if sr != nil {
				t.Fatalf("a page after a failed read: %+v", sr)
			}
			wantCode(t, err, errs.Timeout, "")
			rr, err := reports(anon(), s, 7, 2, "")
			if rr != nil {
				t.Fatalf("a page after a failed read: %+v", rr)
			}
			wantCode(t, err, errs.Timeout, "")
		})
	}
}

// memTrail is an audit.Writer that commits at once.
type memTrail struct {
	mu   sync.Mutex
	rows []*model.AccessAudit
}

func (m *memTrail) AppendRows(rows []*model.AccessAudit) <-chan error {
	m.mu.Lock()
	m.rows = append(m.rows, rows...)
	m.mu.Unlock()
	done := make(chan error, 1)
	done <- nil
	return done
}

func (m *memTrail) AppendOutcome(*model.AccessAuditOutcome) <-chan error {
	done := make(chan error, 1)
	done <- nil
	return done
}

func (m *memTrail) taken() []*model.AccessAudit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.rows)
}

func auditedAs(p *auth.Principal, tr audit.Writer) (context.Context, *audit.Record) {
	ctx, rec := audit.Begin(httptest.NewRequest(http.MethodGet, "/project/7/institutions", nil))
	ctx = audit.Arm(ctx, tr)
	return auth.Attach(ctx, p), rec
}

// TestSubLists_DiscloseTheProjectToTheTrailOrAskForIt: a page of a granted
// project is audited as that project by its grant; a refused one leaves
// the row of the project asked for, with no grant.
func TestSubLists_DiscloseTheProjectToTheTrailOrAskForIt(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	caller := &auth.Principal{Subject: "s", ClientID: "c", Read: true, Projects: []uint64{7}}
	for name, call := range map[string]func(context.Context, int64) error{
		"sites":   func(ctx context.Context, id int64) error { _, err := sites(ctx, s, id, 2, ""); return err },
		"reports": func(ctx context.Context, id int64) error { _, err := reports(ctx, s, id, 2, ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			tr := &memTrail{}
			ctx, rec := auditedAs(caller, tr)
			if err := call(ctx, 7); err != nil {
				t.Fatal(err)
			}
			if err := rec.Finish(http.StatusOK); err != nil {
				t.Fatal(err)
			}
			rows := tr.taken()
			if len(rows) != 1 || rows[0].ProjectId.Int64 != 7 || rows[0].GrantedBy != auth.ScopeRead {
				t.Fatalf("rows %+v, want project 7 by %s", rows, auth.ScopeRead)
			}
			tr = &memTrail{}
			ctx, rec = auditedAs(caller, tr)
			if err := call(ctx, 9); errs.Classify(err).Code != errs.NotFound {
				t.Fatalf("project 9, outside the grant: %v", err)
			}
			if err := rec.Finish(http.StatusNotFound); err != nil {
				t.Fatal(err)
			}
			rows = tr.taken()
			if len(rows) != 1 || rows[0].ProjectId.Int64 != 9 || rows[0].GrantedBy != "" || rows[0].Status != http.StatusNotFound {
				t.Fatalf("rows %+v, want project 9 asked for, no grant, 404", rows)
			}
		})
	}
}

// TestSubLists_NothingIsReadOnceTheAnswerIsDecided: the deadline answered
// (the record finished) before the logic disclosed: it stops with a
// timeout and reads nothing.
func TestSubLists_NothingIsReadOnceTheAnswerIsDecided(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	caller := &auth.Principal{Subject: "s", ClientID: "c", ReadAll: true}
	for _, call := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := sites(ctx, s, 7, 2, ""); return err },
		func(ctx context.Context) error { _, err := reports(ctx, s, 7, 2, ""); return err },
		func(ctx context.Context) error { _, err := loadAs(ctx, caller, s, 7, 10); return err },
	} {
		tr := &memTrail{}
		ctx, rec := auditedAs(caller, tr)
		if err := rec.Finish(http.StatusGatewayTimeout); err != nil {
			t.Fatal(err)
		}
		if err := call(ctx); errs.Classify(err).Code != errs.Timeout {
			t.Fatalf("after the answer was decided: %v, want timeout", err)
		}
	}
	if n := p.reads.Load(); n != 0 {
		t.Fatalf("%d reads after the answer was decided", n)
	}
}

func TestRecord_ReportsBetweenOneAndAHundred(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	for _, n := range []int{0, -1, 101} {
		_, err := load(context.Background(), s, 7, n)
		wantCode(t, err, errs.InvalidArgument, "reports must be between 1 and 100, got "+strconv.Itoa(n))
	}
	for _, n := range []int{1, 100} {
		resp, err := load(context.Background(), s, 7, n)
		if err != nil {
			t.Fatalf("reports=%d: %v", n, err)
		}
		if limit, _ := p.lastReportRead(); limit != n+1 || len(resp.Reports) != min(n, 5) {
			t.Fatalf("reports=%d: read %d, answered %d", n, limit, len(resp.Reports))
		}
	}
}

func TestRecord_InstitutionsDefaultsToTheConfigAndIsBounded(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	get := func(institutions int64) (*types.ProjectDetailsResp, error) {
		return project.NewGetProjectDetailsLogic(anon(), s).
			GetProjectDetails(&types.ProjectDetailsReq{Id: 7, Reports: 10, Institutions: institutions})
	}
	def, maxInst := s.Config.Record.Institutions, s.Config.Record.MaxInstitutions
	for _, tc := range []struct {
		institutions int64
		reads        int
	}{{0, def + 1}, {1, 2}, {int64(maxInst), maxInst + 1}} {
		if _, err := get(tc.institutions); err != nil {
			t.Fatalf("institutions=%d: %v", tc.institutions, err)
		}
		if limit, _ := p.lastSiteRead(); limit != tc.reads {
			t.Fatalf("institutions=%d: read %d sites, want %d", tc.institutions, limit, tc.reads)
		}
	}
	for _, n := range []int64{-1, int64(maxInst) + 1} {
		_, err := get(n)
		wantCode(t, err, errs.InvalidArgument, "institutions must be between 1 and "+strconv.Itoa(maxInst))
	}
}

// TestRecord_ListsThatGoOnSayWhereTheirSubListContinues: the record shows
// the first institutions and reports; each list that goes on carries the
// cursor its sub-list continues from, and one that does not carries none.
func TestRecord_ListsThatGoOnSayWhereTheirSubListContinues(t *testing.T) {
	p := newProject7()
	s := p.svc(t)
	resp, err := project.NewGetProjectDetailsLogic(anon(), s).
		GetProjectDetails(&types.ProjectDetailsReq{Id: 7, Reports: 2, Institutions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Institutions) != 3 || resp.InstitutionsNext == nil || len(resp.Reports) != 2 || resp.ReportsNext == nil {
		t.Fatalf("record with %d sites (next %v), %d reports (next %v): want 3 and 2, both going on",
			len(resp.Institutions), resp.InstitutionsNext, len(resp.Reports), resp.ReportsNext)
	}
	restSites, err := sites(anon(), s, 7, 10, *resp.InstitutionsNext)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{}
	for _, x := range p.sites {
		want = append(want, x.Id)
	}
	if got := append(siteIDs(resp.Institutions), siteIDs(restSites.Institutions)...); !slices.Equal(got, want) {
		t.Fatalf("the record's sites and the rest: %v, want the 5 sites once each", got)
	}
	restReports, err := reports(anon(), s, 7, 10, *resp.ReportsNext)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(reportIDs(resp.Reports), reportIDs(restReports.Reports)...); !slices.Equal(got, []uint64{104, 103, 102, 101, 100}) {
		t.Fatalf("the record's reports and the rest: %v, want 104..100 once each", got)
	}
	whole, err := project.NewGetProjectDetailsLogic(anon(), s).
		GetProjectDetails(&types.ProjectDetailsReq{Id: 7, Reports: 5, Institutions: 5})
	if err != nil || whole.InstitutionsNext != nil || whole.ReportsNext != nil || len(whole.Institutions) != 5 || len(whole.Reports) != 5 {
		t.Fatalf("a record holding every site and report: %+v, %v: want no cursors", whole, err)
	}
}

func TestRecord_AProjectTheModelReturnsAsNilIsNotFound(t *testing.T) {
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) { return nil, nil }),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) { return nil, nil }),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) { return nil, nil }),
	)
	resp, err := load(context.Background(), s, 7, 10)
	if resp != nil {
		t.Fatalf("a record of a nil project: %+v", resp)
	}
	wantCode(t, err, errs.NotFound, "project 7 does not exist")
}
