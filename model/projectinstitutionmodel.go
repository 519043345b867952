package model

import (
	"context"
	"fmt"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ ProjectInstitutionModel = (*customProjectInstitutionModel)(nil)

// projectInstitutionDetailRows are the columns of a ProjectInstitutionDetail:
// the institution, then its link to the project.
const projectInstitutionDetailRows = "i.`id`,i.`code`,i.`name`,i.`city`,i.`country`," +
	"pi.`role`,pi.`site_status`,pi.`principal_investigator`,pi.`enrolled`,pi.`joined_at`"

type (
	// ProjectInstitutionModel is an interface to be customized, add more methods here,
	// and implement the added methods in customProjectInstitutionModel.
	ProjectInstitutionModel interface {
		projectInstitutionModel
		withSession(session sqlx.Session) ProjectInstitutionModel
		// FindByProjectID returns at most limit institutions taking part in
		// a project, with their role in it, ordered by institution name,
		// then id, after the key after (nil: from the first); empty (not
		// nil) when none.
		FindByProjectID(ctx context.Context, projectID uint64, after *SiteKey, limit int) ([]*ProjectInstitutionDetail, error)
	}

	customProjectInstitutionModel struct {
		*defaultProjectInstitutionModel
		byProjectQuery, byProjectAfterQuery string
	}

	// SiteKey is where a page of a project's institutions ends: the last
	// institution's name and id.
	SiteKey struct {
		Name string
		Id   uint64
	}

	// ProjectInstitutionDetail is an institution as it takes part in one
	// project: its own columns and those of its project_institution link.
	ProjectInstitutionDetail struct {
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

// NewProjectInstitutionModel returns a model for the database table.
func NewProjectInstitutionModel(conn sqlx.SqlConn) ProjectInstitutionModel {
	m := &customProjectInstitutionModel{defaultProjectInstitutionModel: newProjectInstitutionModel(conn)}
	// The unique key (project_id, institution_id) makes the lookup an index
	// range, joined to institution by its primary key; the project's sites
	// are sorted by name (a project's own sites, however many pages).
	base := fmt.Sprintf("select %s from %s pi join `institution` i on i.`id` = pi.`institution_id` where pi.`project_id` = ?",
		projectInstitutionDetailRows, m.table)
	const order = " order by i.`name`, i.`id` limit ?"
	m.byProjectQuery = base + order
	m.byProjectAfterQuery = base + " and (i.`name` > ? or (i.`name` = ? and i.`id` > ?))" + order
	return m
}

func (m *customProjectInstitutionModel) withSession(session sqlx.Session) ProjectInstitutionModel {
	return NewProjectInstitutionModel(sqlx.NewSqlConnFromSession(session))
}

// FindByProjectID returns a page of the institutions of a project by name, then id.
func (m *customProjectInstitutionModel) FindByProjectID(ctx context.Context, projectID uint64, after *SiteKey, limit int) ([]*ProjectInstitutionDetail, error) {
	resp := make([]*ProjectInstitutionDetail, 0, min(limit, 64))
	var err error
	if after == nil {
		err = m.conn.QueryRowsCtx(ctx, &resp, m.byProjectQuery, projectID, limit)
	} else {
		err = m.conn.QueryRowsCtx(ctx, &resp, m.byProjectAfterQuery, projectID, after.Name, after.Name, after.Id, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("project_institution: find by project: %w", err)
	}
	return resp, nil
}
