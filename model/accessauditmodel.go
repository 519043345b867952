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
		insertPrefix string
	}
)

// accessAuditPlaceholders is one row's "(?,?,...)" of accessAuditRowsExpectAutoSet.
var accessAuditPlaceholders = "(" + strings.TrimSuffix(strings.Repeat("?,", strings.Count(accessAuditRowsExpectAutoSet, ",")+1), ",") + ")"

// NewAccessAuditModel returns a model for the database table.
func NewAccessAuditModel(conn sqlx.SqlConn) AccessAuditModel {
	m := &customAccessAuditModel{defaultAccessAuditModel: newAccessAuditModel(conn)}
	m.insertPrefix = fmt.Sprintf("insert into %s (%s) values ", m.table, accessAuditRowsExpectAutoSet)
	return m
}

func (m *customAccessAuditModel) withSession(session sqlx.Session) AccessAuditModel {
	return NewAccessAuditModel(sqlx.NewSqlConnFromSession(session))
}

// InsertAll writes rows in one statement (autocommit: one transaction).
func (m *customAccessAuditModel) InsertAll(ctx context.Context, rows []*AccessAudit) error {
	if len(rows) == 0 {
		return nil
	}
	var q strings.Builder
	q.Grow(len(m.insertPrefix) + len(rows)*(len(accessAuditPlaceholders)+1))
	q.WriteString(m.insertPrefix)
	args := make([]any, 0, len(rows)*8)
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(accessAuditPlaceholders)
		args = append(args, r.OccurredAt, r.Subject, r.ClientId, r.ProjectId, r.Method, r.Status, r.GrantedBy, r.TraceId)
	}
	if _, err := m.conn.ExecCtx(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("access_audit: insert %d rows: %w", len(rows), err)
	}
	return nil
}
