package project

import (
	"database/sql"
	"time"

	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// Formats of the API contract: times RFC 3339 in UTC, dates YYYY-MM-DD.
const dateLayout = time.DateOnly

func toResponse(p *model.Project, institutions []*model.ProjectInstitutionDetail, reports []*model.ProjectReport) *types.ProjectDetailsResp {
	resp := &types.ProjectDetailsResp{
		Project: types.Project{
			Id:        p.Id,
			Code:      p.Code,
			Title:     p.Title,
			Phase:     p.Phase,
			Status:    p.Status,
			Sponsor:   p.Sponsor,
			StartDate: date(p.StartDate),
			EndDate:   date(p.EndDate),
			CreatedAt: timestamp(p.CreatedAt),
			UpdatedAt: timestamp(p.UpdatedAt),
		},
		// Empty lists are [] in JSON, never null.
		Institutions: make([]types.ProjectInstitution, 0, len(institutions)),
		Reports:      make([]types.ProjectReport, 0, len(reports)),
	}
	for _, s := range institutions {
		resp.Institutions = append(resp.Institutions, types.ProjectInstitution{
			Id:                    s.Id,
			Code:                  s.Code,
			Name:                  s.Name,
			City:                  s.City,
			Country:               s.Country,
			Role:                  s.Role,
			SiteStatus:            s.SiteStatus,
			PrincipalInvestigator: s.PrincipalInvestigator,
			Enrolled:              s.Enrolled,
			JoinedAt:              timestamp(s.JoinedAt),
		})
	}
	for _, r := range reports {
		resp.Reports = append(resp.Reports, types.ProjectReport{
			Id:          r.Id,
			Title:       r.Title,
			ReportType:  r.ReportType,
			PeriodStart: date(r.PeriodStart),
			PeriodEnd:   date(r.PeriodEnd),
			Summary:     text(r.Summary),
			CreatedAt:   timestamp(r.CreatedAt),
		})
	}
	return resp
}

func timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

func date(t sql.NullTime) *string {
	if !t.Valid {
		return nil
	}
	s := t.Time.Format(dateLayout)
	return &s
}

func text(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
