// Package fakes provides in-memory stand-ins for the generated models, so the
// logic and the HTTP stack can be tested (and benchmarked) without MySQL.
//
// Each fake is the real generated model over a connection that runs no SQL
// (NotFaked), with the finders a test gives replaced by its functions. A
// method without a fake therefore fails with ErrNotFaked — a clear error
// naming the query — instead of panicking, so a new endpoint's tests need no
// change here: they fake what they use.
package fakes

import (
	"context"

	"github.com/clinicaldata/projectsvc/model"
)

// Project is a model.ProjectModel whose FindOne is find (nil: not faked).
func Project(find func(ctx context.Context, id uint64) (*model.Project, error)) model.ProjectModel {
	return &projects{ProjectModel: model.NewProjectModel(NotFaked), find: find}
}

type projects struct {
	model.ProjectModel
	find func(ctx context.Context, id uint64) (*model.Project, error)
}

func (f *projects) FindOne(ctx context.Context, id uint64) (*model.Project, error) {
	if f.find == nil {
		return f.ProjectModel.FindOne(ctx, id)
	}
	return f.find(ctx, id)
}

// ProjectInstitution is a model.ProjectInstitutionModel whose
// FindByProjectID is find (nil: not faked).
func ProjectInstitution(find func(ctx context.Context, projectID uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error)) model.ProjectInstitutionModel {
	return &projectInstitutions{ProjectInstitutionModel: model.NewProjectInstitutionModel(NotFaked), find: find}
}

// AllInstitutions is a ProjectInstitution whose pages come from all, the
// project's whole list by name then id, paged as the database pages it.
func AllInstitutions(all func(ctx context.Context, projectID uint64) ([]*model.ProjectInstitutionDetail, error)) model.ProjectInstitutionModel {
	return ProjectInstitution(func(ctx context.Context, projectID uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error) {
		list, err := all(ctx, projectID)
		if err != nil || list == nil {
			return list, err
		}
		out := []*model.ProjectInstitutionDetail{}
		for _, s := range list {
			if after != nil && (s.Name < after.Name || (s.Name == after.Name && s.Id <= after.Id)) {
				continue
			}
			if len(out) == limit {
				break
			}
			out = append(out, s)
		}
		return out, nil
	})
}

type projectInstitutions struct {
	model.ProjectInstitutionModel
	find func(ctx context.Context, projectID uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error)
}

func (f *projectInstitutions) FindByProjectID(ctx context.Context, projectID uint64, after *model.SiteKey, limit int) ([]*model.ProjectInstitutionDetail, error) {
	if f.find == nil {
		return f.ProjectInstitutionModel.FindByProjectID(ctx, projectID, after, limit)
	}
	return f.find(ctx, projectID, after, limit)
}

// ProjectReport is a model.ProjectReportModel whose FindLatestByProjectID is
// find (nil: not faked).
func ProjectReport(find func(ctx context.Context, projectID uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error)) model.ProjectReportModel {
	return &projectReports{ProjectReportModel: model.NewProjectReportModel(NotFaked), find: find}
}

// LatestReports is a ProjectReport whose pages come from latest, the
// project's reports newest first, limited (before it) as the database
// pages them; latest gets the page's limit.
func LatestReports(latest func(ctx context.Context, projectID uint64, limit int) ([]*model.ProjectReport, error)) model.ProjectReportModel {
	return ProjectReport(func(ctx context.Context, projectID uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error) {
		if before != nil {
			return []*model.ProjectReport{}, nil // the fakes' lists fit on a first page
		}
		return latest(ctx, projectID, limit)
	})
}

type projectReports struct {
	model.ProjectReportModel
	find func(ctx context.Context, projectID uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error)
}

func (f *projectReports) FindLatestByProjectID(ctx context.Context, projectID uint64, before *model.ReportKey, limit int) ([]*model.ProjectReport, error) {
	if f.find == nil {
		return f.ProjectReportModel.FindLatestByProjectID(ctx, projectID, before, limit)
	}
	return f.find(ctx, projectID, before, limit)
}

// AccessAudit is a model.AccessAuditModel whose InsertAll is insert (nil:
// not faked).
func AccessAudit(insert func(ctx context.Context, rows []*model.AccessAudit) error) model.AccessAuditModel {
	return &accessAudit{AccessAuditModel: model.NewAccessAuditModel(NotFaked), insert: insert}
}

type accessAudit struct {
	model.AccessAuditModel
	insert func(ctx context.Context, rows []*model.AccessAudit) error
}

func (f *accessAudit) InsertAll(ctx context.Context, rows []*model.AccessAudit) error {
	if f.insert == nil {
		return f.AccessAuditModel.InsertAll(ctx, rows)
	}
	return f.insert(ctx, rows)
}

// AccessAuditOutcome is a model.AccessAuditOutcomeModel whose InsertAll is
// insert (nil: not faked).
func AccessAuditOutcome(insert func(ctx context.Context, outcomes []*model.AccessAuditOutcome) error) model.AccessAuditOutcomeModel {
	return &accessAuditOutcome{AccessAuditOutcomeModel: model.NewAccessAuditOutcomeModel(NotFaked), insert: insert}
}

type accessAuditOutcome struct {
	model.AccessAuditOutcomeModel
	insert func(ctx context.Context, outcomes []*model.AccessAuditOutcome) error
}

func (f *accessAuditOutcome) InsertAll(ctx context.Context, outcomes []*model.AccessAuditOutcome) error {
	if f.insert == nil {
		return f.AccessAuditOutcomeModel.InsertAll(ctx, outcomes)
	}
	return f.insert(ctx, outcomes)
}
