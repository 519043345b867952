// Package fakes provides in-memory stand-ins for the generated models, so the
// logic and the HTTP stack can be tested (and benchmarked) without MySQL.
// Each fake embeds the model interface it stands in for: only the finders the
// service uses are implemented; any other call panics, which a test notices.
package fakes

import (
	"context"

	"github.com/clinicaldata/projectsvc/model"
)

// Projects is a fake model.ProjectModel whose FindOne is Find.
type Projects struct {
	model.ProjectModel
	Find func(ctx context.Context, id uint64) (*model.Project, error)
}

// FindOne calls Find.
func (f *Projects) FindOne(ctx context.Context, id uint64) (*model.Project, error) {
	return f.Find(ctx, id)
}

// Institutions is a fake model.InstitutionModel whose FindAllByProjectID is Find.
type Institutions struct {
	model.InstitutionModel
	Find func(ctx context.Context, projectID uint64) ([]*model.Site, error)
}

// FindAllByProjectID calls Find.
func (f *Institutions) FindAllByProjectID(ctx context.Context, projectID uint64) ([]*model.Site, error) {
	return f.Find(ctx, projectID)
}

// Reports is a fake model.ProjectReportModel whose FindLatestByProjectID is Find.
type Reports struct {
	model.ProjectReportModel
	Find func(ctx context.Context, projectID uint64, limit int) ([]*model.ProjectReport, error)
}

// FindLatestByProjectID calls Find.
func (f *Reports) FindLatestByProjectID(ctx context.Context, projectID uint64, limit int) ([]*model.ProjectReport, error) {
	return f.Find(ctx, projectID, limit)
}
