package model

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ ProjectModel = (*customProjectModel)(nil)

type (
	// ProjectModel is an interface to be customized, add more methods here,
	// and implement the added methods in customProjectModel.
	ProjectModel interface {
		projectModel
		withSession(session sqlx.Session) ProjectModel
		// FindPage returns at most q.Limit projects matching q, in the
		// catalogue's order (id; (updated_at, id) with q.UpdatedSince),
		// after q's key; empty (not nil) when none.
		FindPage(ctx context.Context, q ProjectPageQuery) ([]*Project, error)
	}

	customProjectModel struct {
		*defaultProjectModel
		projectColumns string // projectRows qualified with the alias p
	}

	// ProjectPageQuery selects a page of the catalogue. Empty fields do not
	// filter; set fields are AND-ed.
	ProjectPageQuery struct {
		Status, Phase, Sponsor string
		// Country: a site in that country; Institution: that institution
		// taking part (its id).
		Country     string
		Institution uint64
		// UpdatedSince orders the page by (updated_at, id) and keeps the
		// projects updated at or after it; without it the order is id.
		UpdatedSince *time.Time
		// Only, when not nil, keeps those projects only (the caller's grant).
		Only []uint64
		// AfterID (and, by updated_at, AfterUpdated): the key of the last
		// project of the previous page; zero for the first page.
		AfterID      uint64
		AfterUpdated time.Time
		Limit        int
	}
)

// NewProjectModel returns a model for the database table.
func NewProjectModel(conn sqlx.SqlConn) ProjectModel {
	m := &customProjectModel{defaultProjectModel: newProjectModel(conn)}
	m.projectColumns = "p." + strings.ReplaceAll(projectRows, ",", ",p.")
	return m
}

func (m *customProjectModel) withSession(session sqlx.Session) ProjectModel {
	return NewProjectModel(sqlx.NewSqlConnFromSession(session))
}

// FindPage reads one page of the catalogue. Each filter has an index whose
// next column is the page's order (sql/schema.sql), so with one filter the
// server reads about Limit index entries: a site filter walks
// project_institution's (institution_id|country, project_id) index for the
// page's project ids and joins each project by its key; a column filter
// walks project's (column, id) index; updated_since walks (updated_at,
// id); no filter walks the primary key. A site filter combined with others
// joins project_institution and lets the server walk whichever filter's
// index it finds narrower, checking the others row by row (see below).
func (m *customProjectModel) FindPage(ctx context.Context, q ProjectPageQuery) ([]*Project, error) {
	if q.Only != nil && len(q.Only) == 0 {
		return []*Project{}, nil
	}
	page := func(query string, args ...any) ([]*Project, error) {
		resp := make([]*Project, 0, q.Limit)
		if err := m.conn.QueryRowsCtx(ctx, &resp, query, args...); err != nil {
			return nil, fmt.Errorf("project: find page: %w", err)
		}
		return resp, nil
	}
	type siteFilter struct {
		column string
		value  any
	}
	var sites []siteFilter // each on a project_institution row of its own
	if q.Institution != 0 {
		sites = append(sites, siteFilter{"`institution_id`", q.Institution})
	}
	if q.Country != "" {
		sites = append(sites, siteFilter{"`country`", q.Country})
	}
	alone := len(sites) == 1 && q.Status == "" && q.Phase == "" && q.Sponsor == "" && q.Only == nil && q.UpdatedSince == nil
	if alone {
		// The page's ids straight from the site index, then the projects.
		sub := "select distinct pi.`project_id` from `project_institution` pi where pi." + sites[0].column + " = ?"
		args := []any{sites[0].value}
		if q.AfterID != 0 {
			sub += " and pi.`project_id` > ?"
			args = append(args, q.AfterID)
		}
		query := "select " + m.projectColumns + " from (" + sub + " order by pi.`project_id` limit ?) s join " + m.table +
			" p on p.`id` = s.`project_id` order by p.`id` limit ?"
		return page(query, append(args, q.Limit, q.Limit)...)
	}

	var b pageQuery
	for _, f := range []struct{ column, value string }{{"status", q.Status}, {"phase", q.Phase}, {"sponsor", q.Sponsor}} {
		if f.value != "" {
			b.where("p.`"+f.column+"` = ?", f.value)
		}
	}
	if q.Only != nil {
		ids := make([]any, len(q.Only))
		for i, id := range q.Only {
			ids[i] = id
		}
		b.where("p.`id` in ("+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+")", ids...)
	}
	order := "p.`id`"
	switch {
	case q.UpdatedSince != nil:
		b.where("p.`updated_at` >= ?", *q.UpdatedSince)
		if q.AfterID != 0 {
			b.where("(p.`updated_at` > ? or (p.`updated_at` = ? and p.`id` > ?))", q.AfterUpdated, q.AfterUpdated, q.AfterID)
		}
		order = "p.`updated_at`, p.`id`"
	case q.AfterID != 0:
		b.where("p.`id` > ?", q.AfterID)
	}
	if len(sites) == 0 {
		return page("select "+m.projectColumns+" from "+m.table+" p"+b.clause()+" order by "+order+" limit ?", append(b.args, q.Limit)...)
	}

	// A site filter with other filters: the page's ids from a plain join of
	// project and project_institution (one per site filter), grouped since a
	// project has several sites in a country, then the projects by key (only
	// the ids are grouped: valid under ONLY_FULL_GROUP_BY on both servers).
	//
	// The server picks the side it walks, in the page's order, and stops at
	// the page's last project: the site index (country|institution_id,
	// project_id), each project then read by key to check its columns; or a
	// project index (status|phase|sponsor, id; updated_at, id; the primary
	// key for a grant's ids), each project then checked for the site with
	// one read of the site index. A page costs about Limit / selectivity
	// entries of the walked index, and the server walks the side with the
	// fewer rows past the cursor (as estimated). MariaDB 10.11 takes the
	// page's order from either index (p.id = project_id); MySQL 8.4 takes it
	// from project's only, sorts when it walks the site index and charges
	// that plan for the sort, so it walks the site index when the site is
	// the narrow side, and sorts that site's few rows.
	//
	// Reads per page, limit 100, 36,000 projects of 2 to 14 sites, MariaDB
	// 10.11 (TestCatalogue_ASiteAndAColumnFilterReadAboutAPageAtAnyCursor):
	//
	//	                                this join   exists   scalar   site first
	//	SE (28% of projects)+completed   730-1,130   12,800      900          740
	//	US+a sponsor of 259 projects       ~890         440      640       36,900
	//	IS (141 projects)+completed        ~480         570   37,700          490
	//
	//   - exists (select 1 from project_institution ...), the query this
	//     replaces: a semi-join, which MariaDB, costing plans without the
	//     LIMIT, materializes (every site of the country, for each page)
	//     while the cursor is low.
	//   - (select 1 from project_institution ... limit 1) is not null: a
	//     scalar subquery is never a semi-join, so it always walks the
	//     project index. Cheap for a common site; for a rare one (a small or
	//     unknown country, an institution) it walks every project of the
	//     column value past the cursor to find its few, whatever the limit.
	//   - straight_join from the site index always walks the site index:
	//     cheap for a rare site, but a rare column value in a large country
	//     walks all of the country's sites.
	// Each fixed plan walks one given side, so each has combinations where
	// that side is the wide one and a page costs all its rows past the
	// cursor: for the scalar subquery, every rare site. The join's worst
	// case is the narrow side's rows past the cursor, which for a rare site
	// is the site's own few.
	var joins string
	var args []any
	for i, s := range sites {
		alias := fmt.Sprintf("s%d", i)
		joins += " join `project_institution` " + alias + " on " + alias + ".`project_id` = p.`id` and " + alias + "." + s.column + " = ?"
		args = append(args, s.value)
	}
	ids := "select p.`id` from " + m.table + " p" + joins + b.clause() + " group by " + order + " order by " + order + " limit ?"
	query := "select " + m.projectColumns + " from (" + ids + ") s join " + m.table + " p on p.`id` = s.`id` order by " + order + " limit ?"
	return page(query, append(append(args, b.args...), q.Limit, q.Limit)...)
}

// pageQuery collects a query's conditions and their arguments, in order.
type pageQuery struct {
	conds []string
	args  []any
}

func (b *pageQuery) where(cond string, args ...any) {
	b.conds = append(b.conds, cond)
	b.args = append(b.args, args...)
}

func (b *pageQuery) clause() string {
	if len(b.conds) == 0 {
		return ""
	}
	return " where " + strings.Join(b.conds, " and ")
}
