package project

import (
	"database/sql"
	"time"

	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// toResponse builds the API's record from the three reads. Times are RFC
// 3339 in UTC, dates YYYY-MM-DD, absent values null, lists [] when empty.
//
// Every time and date of the record is formatted into one buffer that
// becomes one string, and each field is a slice of it; the optional ones
// point into one []string. A record of 30 institutions and 10 reports then
// costs a handful of allocations instead of one or two per field.
func toResponse(p *model.Project, institutions []*model.ProjectInstitutionDetail, reports []*model.ProjectReport) *types.ProjectDetailsResp {
	n := 4 + len(institutions) + 3*len(reports)
	text := texts{buf: make([]byte, 0, n*len(time.RFC3339)), ends: make([]int, 0, n)}
	// Pass 1: format, remembering where each value ends.
	text.timestamp(p.CreatedAt)
	text.timestamp(p.UpdatedAt)
	text.date(p.StartDate)
	text.date(p.EndDate)
	for _, s := range institutions {
		text.timestamp(s.JoinedAt)
	}
	for _, r := range reports {
		text.date(r.PeriodStart)
		text.date(r.PeriodEnd)
		text.timestamp(r.CreatedAt)
	}
	// Pass 2: one string, and the fields as slices of it.
	text.all = string(text.buf)
	optional := make([]string, 0, 2+3*len(reports))
	opt := func(ok bool, s string) *string {
		if !ok {
			return nil
		}
		optional = append(optional, s)
		return &optional[len(optional)-1]
	}

	resp := &types.ProjectDetailsResp{
		Project: types.Project{
			Id:        p.Id,
			Code:      p.Code,
			Title:     p.Title,
			Phase:     p.Phase,
			Status:    p.Status,
			Sponsor:   p.Sponsor,
			CreatedAt: text.next(),
			UpdatedAt: text.next(),
			StartDate: opt(p.StartDate.Valid, text.next()),
			EndDate:   opt(p.EndDate.Valid, text.next()),
		},
		// Empty lists are [] in JSON, never null.
		Institutions: make([]types.ProjectInstitution, len(institutions)),
		Reports:      make([]types.ProjectReport, len(reports)),
	}
	for i, s := range institutions {
		resp.Institutions[i] = types.ProjectInstitution{
			Id:                    s.Id,
			Code:                  s.Code,
			Name:                  s.Name,
			City:                  s.City,
			Country:               s.Country,
			Role:                  s.Role,
			SiteStatus:            s.SiteStatus,
			PrincipalInvestigator: s.PrincipalInvestigator,
			Enrolled:              s.Enrolled,
			JoinedAt:              text.next(),
		}
	}
	for i, r := range reports {
		start, end := text.next(), text.next()
		resp.Reports[i] = types.ProjectReport{
			Id:          r.Id,
			Title:       r.Title,
			ReportType:  r.ReportType,
			PeriodStart: opt(r.PeriodStart.Valid, start),
			PeriodEnd:   opt(r.PeriodEnd.Valid, end),
			Summary:     summary(&r.Summary),
			CreatedAt:   text.next(),
		}
	}
	return resp
}

// texts formats values into one buffer and hands them out, in order, as
// slices of one string.
type texts struct {
	buf  []byte
	ends []int
	all  string
	i    int
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

func (t *texts) next() string {
	start := 0
	if t.i > 0 {
		start = t.ends[t.i-1]
	}
	s := t.all[start:t.ends[t.i]]
	t.i++
	return s
}

// summary points at the model's text (no copy), or is nil for NULL.
func summary(s *sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
