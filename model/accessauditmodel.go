package model

import (
	"context"
	"fmt"
	"strings"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ AccessAuditModel = (*customAccessAuditModel)(nil)

type (
	// AccessAuditModel is an interface to be customized, add more methods here,
	// and implement the added methods in customAccessAuditModel.
	AccessAuditModel interface {
		accessAuditModel
		withSession(session sqlx.Session) AccessAuditModel
		// InsertAll writes rows with one multi-row INSERT: all of them are
		// committed, or (on any error) none.
		InsertAll(ctx context.Context, rows []*AccessAudit) error
	}

	customAccessAuditModel struct {
		*defaultAccessAuditModel
		insert multiRowInsert
	}
)

// NewAccessAuditModel returns a model for the database table.
func NewAccessAuditModel(conn sqlx.SqlConn) AccessAuditModel {
	m := &customAccessAuditModel{defaultAccessAuditModel: newAccessAuditModel(conn)}
	m.insert = newMultiRowInsert(m.table, accessAuditRowsExpectAutoSet)
	return m
}

func (m *customAccessAuditModel) withSession(session sqlx.Session) AccessAuditModel {
	return NewAccessAuditModel(sqlx.NewSqlConnFromSession(session))
}

// InsertAll writes rows in one statement (autocommit: one transaction).
func (m *customAccessAuditModel) InsertAll(ctx context.Context, rows []*AccessAudit) error {
	err := m.insert.exec(ctx, m.conn, len(rows), func(i int, args []any) []any {
		r := rows[i]
		// The order of accessAuditRowsExpectAutoSet (the struct's fields but id).
		return append(args, r.RequestId, r.OccurredAt, r.Subject, r.ClientId, r.ProjectId, r.Method, r.Route, r.Status, r.GrantedBy, r.TraceId)
	})
	if err != nil {
		return fmt.Errorf("access_audit: insert %d rows: %w", len(rows), err)
	}
	return nil
}

// multiRowInsert is "insert into table (columns) values (?,...),(?,...)".
type multiRowInsert struct {
	prefix, row string
	columns     int
}

func newMultiRowInsert(table, columns string) multiRowInsert {
	n := strings.Count(columns, ",") + 1
	return multiRowInsert{
		prefix:  fmt.Sprintf("insert into %s (%s) values ", table, columns),
		row:     "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")",
		columns: n,
	}
}

// exec inserts n rows whose arguments args appends, row by row.
func (q multiRowInsert) exec(ctx context.Context, conn sqlx.SqlConn, n int, args func(i int, args []any) []any) error {
	if n == 0 {
		return nil
	}
	var b strings.Builder
	b.Grow(len(q.prefix) + n*(len(q.row)+1))
	b.WriteString(q.prefix)
	all := make([]any, 0, n*q.columns)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(q.row)
		all = args(i, all)
	}
	if len(all) != n*q.columns {
		return fmt.Errorf("%d arguments for %d rows of %d columns", len(all), n, q.columns)
	}
	_, err := conn.ExecCtx(ctx, b.String(), all...)
	return err
}
