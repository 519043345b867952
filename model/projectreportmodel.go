package model

import "github.com/zeromicro/go-zero/core/stores/sqlx"

var _ ProjectReportModel = (*customProjectReportModel)(nil)

type (
	// ProjectReportModel is an interface to be customized, add more methods here,
	// and implement the added methods in customProjectReportModel.
	ProjectReportModel interface {
		projectReportModel
		withSession(session sqlx.Session) ProjectReportModel
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
