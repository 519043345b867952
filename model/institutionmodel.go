package model

import (
	"context"
	"fmt"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ InstitutionModel = (*customInstitutionModel)(nil)

// siteRows are the columns of a Site: the institution and its link to the project.
const siteRows = "i.`id`,i.`code`,i.`name`,i.`city`,i.`country`," +
	"pi.`role`,pi.`site_status`,pi.`principal_investigator`,pi.`enrolled`,pi.`joined_at`"

type (
	// InstitutionModel is an interface to be customized, add more methods here,
	// and implement the added methods in customInstitutionModel.
	InstitutionModel interface {
		institutionModel
		withSession(session sqlx.Session) InstitutionModel
		// FindAllByProjectID returns the sites taking part in a project,
		// ordered by institution name, then id; empty (not nil) when none.
		FindAllByProjectID(ctx context.Context, projectID uint64) ([]*Site, error)
	}

	customInstitutionModel struct {
		*defaultInstitutionModel
		sitesQuery string
	}

	// Site is an institution as it takes part in one project.
	Site struct {
		Id                    uint64    `db:"id"`
		Code                  string    `db:"code"`
		Name                  string    `db:"name"`
		City                  string    `db:"city"`
		Country               string    `db:"country"`
		Role                  string    `db:"role"`
		SiteStatus            string    `db:"site_status"`
		PrincipalInvestigator string    `db:"principal_investigator"`
		Enrolled              int64     `db:"enrolled"`
		JoinedAt              time.Time `db:"joined_at"`
	}
)

// NewInstitutionModel returns a model for the database table.
func NewInstitutionModel(conn sqlx.SqlConn) InstitutionModel {
	m := &customInstitutionModel{defaultInstitutionModel: newInstitutionModel(conn)}
	// project_institution's unique key starts with project_id: the lookup is
	// an index range, joined to institution by primary key.
	m.sitesQuery = fmt.Sprintf("select %s from `project_institution` pi join %s i on i.`id` = pi.`institution_id` "+
		"where pi.`project_id` = ? order by i.`name`, i.`id`", siteRows, m.table)
	return m
}

func (m *customInstitutionModel) withSession(session sqlx.Session) InstitutionModel {
	return NewInstitutionModel(sqlx.NewSqlConnFromSession(session))
}

// FindAllByProjectID returns the sites of a project by institution name, then id.
func (m *customInstitutionModel) FindAllByProjectID(ctx context.Context, projectID uint64) ([]*Site, error) {
	resp := make([]*Site, 0)
	if err := m.conn.QueryRowsCtx(ctx, &resp, m.sitesQuery, projectID); err != nil {
		return nil, fmt.Errorf("institution: find by project %d: %w", projectID, err)
	}
	return resp, nil
}
