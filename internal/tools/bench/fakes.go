package bench

import (
	"context"

	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/model"
)

// FakeModels returns in-memory models that answer any project id with one
// record shaped like the generated data set's: sites sites and up to
// limit reports (the request's ?reports=). The record is built once; each
// call returns it (the project row as a fresh copy carrying the asked id),
// so the fakes cost next to nothing and a benchmark over them measures the
// service's own work.
func FakeModels(d dataset.Spec, sites, reports int) func(*store.Models) {
	rec := d.SampleRecord(sites, reports)
	return func(s *store.Models) {
		s.Project = fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			p := rec.Project
			p.Id = id
			return &p, nil
		})
		s.ProjectInstitution = fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return rec.Sites, nil
		})
		s.ProjectReport = fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return rec.Reports[:min(limit, len(rec.Reports))], nil
		})
	}
}
