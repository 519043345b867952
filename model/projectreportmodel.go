package model

import (
	"context"
	"fmt"
	"time"

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
		// newest first (created_at, then id, descending), older than the
		// key before (nil: from the newest); empty (not nil) when none.
		FindLatestByProjectID(ctx context.Context, projectID uint64, before *ReportKey, limit int) ([]*ProjectReport, error)
	}

	customProjectReportModel struct {
		*defaultProjectReportModel
		latestQuery, olderQuery string
	}

	// ReportKey is where a page of a project's reports ends: the last
	// report's created_at and id.
	ReportKey struct {
		CreatedAt time.Time
		Id        uint64
	}
)

// NewProjectReportModel returns a model for the database table.
func NewProjectReportModel(conn sqlx.SqlConn) ProjectReportModel {
	m := &customProjectReportModel{defaultProjectReportModel: newProjectReportModel(conn)}
	// idx_project_report_latest serves this as an index range read backwards:
	// no filesort, and the scan stops after limit rows.
	base := fmt.Sprintf("select %s from %s where `project_id` = ?", projectReportRows, m.table)
	const order = " order by `created_at` desc, `id` desc limit ?"
	m.latestQuery = base + order
	m.olderQuery = base + " and (`created_at` < ? or (`created_at` = ? and `id` < ?))" + order
	return m
}

func (m *customProjectReportModel) withSession(session sqlx.Session) ProjectReportModel {
	return NewProjectReportModel(sqlx.NewSqlConnFromSession(session))
}

// FindLatestByProjectID returns a page of the reports of a project, newest first.
func (m *customProjectReportModel) FindLatestByProjectID(ctx context.Context, projectID uint64, before *ReportKey, limit int) ([]*ProjectReport, error) {
	resp := make([]*ProjectReport, 0, min(limit, 128))
	var err error
	if before == nil {
		err = m.conn.QueryRowsCtx(ctx, &resp, m.latestQuery, projectID, limit)
	} else {
		err = m.conn.QueryRowsCtx(ctx, &resp, m.olderQuery, projectID, before.CreatedAt, before.CreatedAt, before.Id, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("project_report: latest of project: %w", err)
	}
	return resp, nil
}
