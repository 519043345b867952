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
// id); no filter walks the primary key. Filters combined are AND-ed on the
// same order (a site filter as an EXISTS), read along whichever index the
// optimizer finds most selective.
func (m *customProjectModel) FindPage(ctx context.Context, q ProjectPageQuery) ([]*Project, error) {
	if q.Only != nil && len(q.Only) == 0 {
		return []*Project{}, nil
	}
	var b pageQuery
	site, siteArg := "", any(nil)
	switch {
	case q.Institution != 0:
		site, siteArg = "`institution_id`", q.Institution
	case q.Country != "":
		site, siteArg = "`country`", q.Country
	}
	alone := q.Status == "" && q.Phase == "" && q.Sponsor == "" && q.Only == nil && q.UpdatedSince == nil &&
		(q.Institution == 0 || q.Country == "")
	from := m.table + " p"
	switch {
	case site != "" && alone:
		// The page's ids straight from the site index, then the projects.
		sub := "select distinct pi.`project_id` from `project_institution` pi where pi." + site + " = ?"
		subArgs := []any{siteArg}
		if q.AfterID != 0 {
			sub += " and pi.`project_id` > ?"
			subArgs = append(subArgs, q.AfterID)
		}
		from = "(" + sub + " order by pi.`project_id` limit ?) s join " + m.table + " p on p.`id` = s.`project_id`"
		b.args = append(append(b.args, subArgs...), q.Limit)
	default:
		if q.Institution != 0 {
			b.where("exists (select 1 from `project_institution` pi where pi.`project_id` = p.`id` and pi.`institution_id` = ?)", q.Institution)
		}
		if q.Country != "" {
			b.where("exists (select 1 from `project_institution` pi where pi.`project_id` = p.`id` and pi.`country` = ?)", q.Country)
		}
	}
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
	query := "select " + m.projectColumns + " from " + from + b.clause() + " order by " + order + " limit ?"
	resp := make([]*Project, 0, q.Limit)
	if err := m.conn.QueryRowsCtx(ctx, &resp, query, append(b.args, q.Limit)...); err != nil {
		return nil, fmt.Errorf("project: find page: %w", err)
	}
	return resp, nil
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
