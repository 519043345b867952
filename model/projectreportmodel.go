package model

import (
	"context"
	"fmt"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ ProjectReportModel = (*customProjectReportModel)(nil)

type (
	// ProjectReportModel is an interface to be customized, add more methods here,
	// and implement the added methods in customProjectReportModel.
	ProjectReportModel interface {
		projectReportModel
		withSession(session sqlx.Session) ProjectReportModel
		// FindLatestByProjectID returns at most limit reports of a project,
		// newest first (created_at, then id, descending); empty (not nil) when none.
		FindLatestByProjectID(ctx context.Context, projectID uint64, limit int) ([]*ProjectReport, error)
	}

	customProjectReportModel struct {
		*defaultProjectReportModel
	}
)

// NewProjectReportModel returns a model for the database table.
func NewProjectReportModel(conn sqlx.SqlConn) ProjectReportModel {
	return &customProjectReportModel{
		defaultProjectReportModel: newProjectReportModel(conn),
	}
}

func (m *customProjectReportModel) withSession(session sqlx.Session) ProjectReportModel {
	return NewProjectReportModel(sqlx.NewSqlConnFromSession(session))
}

// FindLatestByProjectID reads idx_project_report_latest backwards: an index
// range on project_id, no filesort, stopping after limit rows.
func (m *customProjectReportModel) FindLatestByProjectID(ctx context.Context, projectID uint64, limit int) ([]*ProjectReport, error) {
	query := fmt.Sprintf("select %s from %s where `project_id` = ? order by `created_at` desc, `id` desc limit ?",
		projectReportRows, m.table)
	resp := make([]*ProjectReport, 0, limit)
	if err := m.conn.QueryRowsCtx(ctx, &resp, query, projectID, limit); err != nil {
		return nil, fmt.Errorf("project_report: latest %d of project %d: %w", limit, projectID, err)
	}
	return resp, nil
}
