package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/model"
)

// FakeModels returns in-memory models that answer any project id with one
// record shaped like the generated data set's: sites sites and up to
// limit reports (the request's ?reports=), with summaries of the data set's
// length. The record is built once; each call returns it (the project row
// as a fresh copy carrying the asked id), so the fakes cost next to nothing
// and a benchmark over them measures the service's own work.
func FakeModels(d Dataset, sites, reports int) func(*svc.ServiceContext) {
	r := d.rng(7, 0)
	created := time.Date(2019, 4, 2, 8, 30, 0, 0, time.UTC)
	project := model.Project{
		Code: "CTP-2019-00042", Title: "Randomised, double-blind trial of Finerenone versus placebo for heart failure with preserved ejection fraction",
		Phase: "III", Status: "active", Sponsor: "Nordhavn Pharma A/S",
		StartDate: sql.NullTime{Time: created.AddDate(0, 3, 0), Valid: true},
		CreatedAt: created, UpdatedAt: created.AddDate(5, 1, 0),
	}
	site := make([]*model.ProjectInstitutionDetail, sites)
	for i := range site {
		p := places[r.IntN(len(places))]
		site[i] = &model.ProjectInstitutionDetail{
			Id:   uint64(1 + r.IntN(d.Institutions)),
			Code: fmt.Sprintf("INST-%s-%05d", p.country, i+1),
			Name: fmt.Sprintf(institutionKinds[r.IntN(len(institutionKinds))], p.city), City: p.city, Country: p.country,
			Role: "participating", SiteStatus: "active", Enrolled: int64(r.IntN(400)),
			PrincipalInvestigator: titles[r.IntN(len(titles))] + " " + firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
			JoinedAt:              created.AddDate(0, 3+i, 0),
		}
	}
	if sites > 0 {
		site[0].Role = "lead"
	}
	rep := make([]*model.ProjectReport, reports)
	for i := range rep {
		at := created.AddDate(6, 0, -30*i)
		var summary []byte
		for n := 1 + r.IntN(6); n > 0; n-- {
			if len(summary) > 0 {
				summary = append(summary, ' ')
			}
			summary = sentenceForms[r.IntN(len(sentenceForms))](r, summary)
		}
		rep[i] = &model.ProjectReport{
			Id: uint64(2_000_000 - i), ProjectId: 42, Title: fmt.Sprintf("Safety report Q%d %d", (int(at.Month())-1)/3+1, at.Year()),
			ReportType:  "safety",
			PeriodStart: sql.NullTime{Time: at.AddDate(0, -3, 0), Valid: true}, PeriodEnd: sql.NullTime{Time: at.AddDate(0, 0, -1), Valid: true},
			Summary: sql.NullString{String: string(summary), Valid: true}, CreatedAt: at,
		}
	}
	return func(s *svc.ServiceContext) {
		s.ProjectModel = fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			p := project
			p.Id = id
			return &p, nil
		})
		s.ProjectInstitutionModel = fakes.ProjectInstitution(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return site, nil
		})
		s.ProjectReportModel = fakes.ProjectReport(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return rep[:min(limit, len(rep))], nil
		})
	}
}
