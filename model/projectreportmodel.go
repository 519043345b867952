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
		latestQuery string
	}
)

// NewProjectReportModel returns a model for the database table.
func NewProjectReportModel(conn sqlx.SqlConn) ProjectReportModel {
	m := &customProjectReportModel{defaultProjectReportModel: newProjectReportModel(conn)}
	// idx_project_report_latest serves this as an index range read backwards:
	// no filesort, and the scan stops after limit rows.
	m.latestQuery = fmt.Sprintf("select %s from %s where `project_id` = ? order by `created_at` desc, `id` desc limit ?",
		projectReportRows, m.table)
	return m
}

func (m *customProjectReportModel) withSession(session sqlx.Session) ProjectReportModel {
	return NewProjectReportModel(sqlx.NewSqlConnFromSession(session))
}

// FindLatestByProjectID returns the latest reports of a project, newest first.
func (m *customProjectReportModel) FindLatestByProjectID(ctx context.Context, projectID uint64, limit int) ([]*ProjectReport, error) {
	resp := make([]*ProjectReport, 0, limit)
	if err := m.conn.QueryRowsCtx(ctx, &resp, m.latestQuery, projectID, limit); err != nil {
		return nil, fmt.Errorf("project_report: latest %d of project %d: %w", limit, projectID, err)
	}
	return resp, nil
}
