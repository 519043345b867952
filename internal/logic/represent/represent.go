// Package represent turns the models into the API's representation: times
// RFC 3339 in UTC, dates YYYY-MM-DD, absent values null, lists [] when
// empty, never null. The logic of every route answers through it.
//
// Every time and date of an answer is formatted into one buffer that
// becomes one string, and each field is a slice of it; the optional ones
// point into one []string. A record of 30 institutions and 10 reports then
// costs a handful of allocations instead of one or two per field.
package represent

import (
	"database/sql"
	"time"

	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// Record is the project record: the project, its institutions and reports
// (the *_next cursors are the caller's to set).
func Record(p *model.Project, institutions []*model.ProjectInstitutionDetail, reports []*model.ProjectReport) *types.ProjectDetailsResp {
	t := newTexts(projectTexts + len(institutions) + reportTexts*len(reports))
	t.project(p)
	t.institutions(institutions)
	t.reports(reports)
	t.done(2 + 3*len(reports))
	return &types.ProjectDetailsResp{
		Project:      t.nextProject(p),
		Institutions: t.nextInstitutions(institutions),
		Reports:      t.nextReports(reports),
	}
}

// Projects is a page of projects.
func Projects(ps []*model.Project) []types.Project {
	t := newTexts(projectTexts * len(ps))
	for _, p := range ps {
		t.project(p)
	}
	t.done(2 * len(ps))
	out := make([]types.Project, len(ps))
	for i, p := range ps {
		out[i] = t.nextProject(p)
	}
	return out
}

// Institutions is a page of a project's institutions.
func Institutions(institutions []*model.ProjectInstitutionDetail) []types.ProjectInstitution {
	t := newTexts(len(institutions))
	t.institutions(institutions)
	t.done(0)
	return t.nextInstitutions(institutions)
}

// Reports is a page of a project's reports.
func Reports(reports []*model.ProjectReport) []types.ProjectReport {
	t := newTexts(reportTexts * len(reports))
	t.reports(reports)
	t.done(3 * len(reports))
	return t.nextReports(reports)
}

// The formatted values of each item, in the order they are formatted.
const (
	projectTexts = 4 // created_at, updated_at, start_date, end_date
	reportTexts  = 3 // period_start, period_end, created_at
)

// texts formats values into one buffer (pass 1) and hands them out, in
// order, as slices of one string (pass 2).
type texts struct {
	buf      []byte
	ends     []int
	all      string
	i        int
	optional []string
}

func newTexts(n int) *texts {
	return &texts{buf: make([]byte, 0, n*len(time.RFC3339)), ends: make([]int, 0, n)}
}

// Pass 1.

func (t *texts) project(p *model.Project) {
	t.timestamp(p.CreatedAt)
	t.timestamp(p.UpdatedAt)
	t.date(p.StartDate)
	t.date(p.EndDate)
}

func (t *texts) institutions(institutions []*model.ProjectInstitutionDetail) {
	for _, s := range institutions {
		t.timestamp(s.JoinedAt)
	}
}

func (t *texts) reports(reports []*model.ProjectReport) {
	for _, r := range reports {
		t.date(r.PeriodStart)
		t.date(r.PeriodEnd)
		t.timestamp(r.CreatedAt)
	}
}

func (t *texts) timestamp(v time.Time) {
	t.buf = v.UTC().AppendFormat(t.buf, time.RFC3339)
	t.ends = append(t.ends, len(t.buf))
}

// date formats a nullable date (an empty text when absent).
func (t *texts) date(v sql.NullTime) {
	if v.Valid {
		t.buf = v.Time.AppendFormat(t.buf, time.DateOnly)
	}
	t.ends = append(t.ends, len(t.buf))
}

// done ends pass 1: one string, and room for the optional values.
func (t *texts) done(optional int) {
	t.all = string(t.buf)
	t.optional = make([]string, 0, optional)
}

// Pass 2, in the order of pass 1.

func (t *texts) next() string {
	start := 0
	if t.i > 0 {
		start = t.ends[t.i-1]
	}
	s := t.all[start:t.ends[t.i]]
	t.i++
	return s
}

// opt is a pointer to s when ok, else nil (null).
func (t *texts) opt(ok bool, s string) *string {
	if !ok {
		return nil
	}
	t.optional = append(t.optional, s)
	return &t.optional[len(t.optional)-1]
}

func (t *texts) nextProject(p *model.Project) types.Project {
	out := types.Project{Id: p.Id, Code: p.Code, Title: p.Title, Phase: p.Phase, Status: p.Status, Sponsor: p.Sponsor}
	out.CreatedAt, out.UpdatedAt = t.next(), t.next()
	out.StartDate = t.opt(p.StartDate.Valid, t.next())
	out.EndDate = t.opt(p.EndDate.Valid, t.next())
	return out
}

func (t *texts) nextInstitutions(institutions []*model.ProjectInstitutionDetail) []types.ProjectInstitution {
	out := make([]types.ProjectInstitution, len(institutions)) // [] when empty, never null
	for i, s := range institutions {
		out[i] = types.ProjectInstitution{Id: s.Id, Code: s.Code, Name: s.Name, City: s.City, Country: s.Country, Role: s.Role,
			SiteStatus: s.SiteStatus, PrincipalInvestigator: s.PrincipalInvestigator, Enrolled: s.Enrolled, JoinedAt: t.next()}
	}
	return out
}

func (t *texts) nextReports(reports []*model.ProjectReport) []types.ProjectReport {
	out := make([]types.ProjectReport, len(reports))
	for i, r := range reports {
		start, end := t.next(), t.next()
		out[i] = types.ProjectReport{Id: r.Id, Title: r.Title, ReportType: r.ReportType,
			PeriodStart: t.opt(r.PeriodStart.Valid, start), PeriodEnd: t.opt(r.PeriodEnd.Valid, end),
			Summary: summary(&r.Summary), CreatedAt: t.next()}
	}
	return out
}

// summary points at the model's text (no copy), or is nil for NULL.
func summary(s *sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
