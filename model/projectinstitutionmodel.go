package model

import "github.com/zeromicro/go-zero/core/stores/sqlx"

var _ ProjectInstitutionModel = (*customProjectInstitutionModel)(nil)

type (
	// ProjectInstitutionModel is an interface to be customized, add more methods here,
	// and implement the added methods in customProjectInstitutionModel.
	ProjectInstitutionModel interface {
		projectInstitutionModel
		withSession(session sqlx.Session) ProjectInstitutionModel
	}

	customProjectInstitutionModel struct {
		*defaultProjectInstitutionModel
	}
)

// NewProjectInstitutionModel returns a model for the database table.
func NewProjectInstitutionModel(conn sqlx.SqlConn) ProjectInstitutionModel {
	return &customProjectInstitutionModel{
		defaultProjectInstitutionModel: newProjectInstitutionModel(conn),
	}
}

func (m *customProjectInstitutionModel) withSession(session sqlx.Session) ProjectInstitutionModel {
	return NewProjectInstitutionModel(sqlx.NewSqlConnFromSession(session))
}
