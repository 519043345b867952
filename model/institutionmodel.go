package model

import "github.com/zeromicro/go-zero/core/stores/sqlx"

var _ InstitutionModel = (*customInstitutionModel)(nil)

type (
	// InstitutionModel is an interface to be customized, add more methods here,
	// and implement the added methods in customInstitutionModel.
	InstitutionModel interface {
		institutionModel
		withSession(session sqlx.Session) InstitutionModel
	}

	customInstitutionModel struct {
		*defaultInstitutionModel
	}
)

// NewInstitutionModel returns a model for the database table.
func NewInstitutionModel(conn sqlx.SqlConn) InstitutionModel {
	return &customInstitutionModel{
		defaultInstitutionModel: newInstitutionModel(conn),
	}
}

func (m *customInstitutionModel) withSession(session sqlx.Session) InstitutionModel {
	return NewInstitutionModel(sqlx.NewSqlConnFromSession(session))
}
