package dataset

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/clinicaldata/projectsvc/model"
)

// Record is one project's record as the models return it.
type Record struct {
	Project model.Project
	Sites   []*model.ProjectInstitutionDetail
	Reports []*model.ProjectReport // newest first
}

// SampleRecord is a record shaped like the data set's (its vocabulary,
// summary lengths, institution ids), with the given numbers of sites and
// reports, every report with a summary; for fakes.
func (s Spec) SampleRecord(sites, reports int) Record {
	r := s.rng(7, 0)
	created := time.Date(2019, 4, 2, 8, 30, 0, 0, time.UTC)
	rec := Record{
		Project: model.Project{
			Id: 42, Code: "CTP-2019-00042", Title: "Randomised, double-blind trial of Finerenone versus placebo for heart failure with preserved ejection fraction",
			Phase: "III", Status: "active", Sponsor: "Nordhavn Pharma A/S",
			StartDate: sql.NullTime{Time: created.AddDate(0, 3, 0), Valid: true},
			CreatedAt: created, UpdatedAt: created.AddDate(5, 1, 0),
		},
		Sites:   make([]*model.ProjectInstitutionDetail, sites),
		Reports: make([]*model.ProjectReport, reports),
	}
	for i := range rec.Sites {
		p := places[r.IntN(len(places))]
		rec.Sites[i] = &model.ProjectInstitutionDetail{
			Id:   uint64(1 + r.IntN(s.Institutions)),
			Code: fmt.Sprintf("INST-%s-%05d", p.country, i+1),
			Name: fmt.Sprintf(institutionKinds[r.IntN(len(institutionKinds))], p.city), City: p.city, Country: p.country,
			Role: "participating", SiteStatus: "active", Enrolled: int64(r.IntN(400)),
			PrincipalInvestigator: titles[r.IntN(len(titles))] + " " + firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
			JoinedAt:              created.AddDate(0, 3+i, 0),
		}
	}
	if sites > 0 {
		rec.Sites[0].Role = "lead"
	}
	for i := range rec.Reports {
		at := created.AddDate(6, 0, -30*i)
		rec.Reports[i] = &model.ProjectReport{
			Id: uint64(2_000_000 - i), ProjectId: 42, Title: fmt.Sprintf("Safety report Q%d %d", (int(at.Month())-1)/3+1, at.Year()),
			ReportType:  "safety",
			PeriodStart: sql.NullTime{Time: at.AddDate(0, -3, 0), Valid: true}, PeriodEnd: sql.NullTime{Time: at.AddDate(0, 0, -1), Valid: true},
			Summary: sql.NullString{String: string(summary(r, nil)), Valid: true}, CreatedAt: at,
		}
	}
	return rec
}
