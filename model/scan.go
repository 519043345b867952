package model

import (
	"database/sql"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

// Explicit row scanning for the three reads of a project record. The
// service's connection (internal/svc, readConn) uses these instead of
// go-zero's reflective mapping, which rebuilds a map of the struct's db tags
// for every row; any other sqlx.SqlConn keeps mapping by the db tags, so the
// models work on a plain go-zero connection too. The destinations are in
// the order of the columns the finders select (the generated xxxRows lists
// follow the struct's field order); the model tests check both paths read
// the same values.

// ScanRow reads one project (projectRows), or answers sqlx.ErrNotFound.
func (p *Project) ScanRow(rows *sql.Rows) error {
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sqlx.ErrNotFound
	}
	return rows.Scan(&p.Id, &p.Code, &p.Title, &p.Phase, &p.Status, &p.Sponsor,
		&p.StartDate, &p.EndDate, &p.CreatedAt, &p.UpdatedAt)
}

// ProjectInstitutionDetails are the rows of FindAllByProjectID.
type ProjectInstitutionDetails []*ProjectInstitutionDetail

// ScanRows appends every row (projectInstitutionDetailRows).
func (s *ProjectInstitutionDetails) ScanRows(rows *sql.Rows) error {
	for rows.Next() {
		d := new(ProjectInstitutionDetail)
		if err := rows.Scan(&d.Id, &d.Code, &d.Name, &d.City, &d.Country,
			&d.Role, &d.SiteStatus, &d.PrincipalInvestigator, &d.Enrolled, &d.JoinedAt); err != nil {
			return err
		}
		*s = append(*s, d)
	}
	return rows.Err()
}

// ProjectReports are the rows of FindLatestByProjectID.
type ProjectReports []*ProjectReport

// ScanRows appends every row (projectReportRows).
func (s *ProjectReports) ScanRows(rows *sql.Rows) error {
	for rows.Next() {
		r := new(ProjectReport)
		if err := rows.Scan(&r.Id, &r.ProjectId, &r.Title, &r.ReportType,
			&r.PeriodStart, &r.PeriodEnd, &r.Summary, &r.CreatedAt); err != nil {
			return err
		}
		*s = append(*s, r)
	}
	return rows.Err()
}
