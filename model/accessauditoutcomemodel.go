package model

import (
	"context"
	"fmt"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ AccessAuditOutcomeModel = (*customAccessAuditOutcomeModel)(nil)

type (
	// AccessAuditOutcomeModel is an interface to be customized, add more methods here,
	// and implement the added methods in customAccessAuditOutcomeModel.
	AccessAuditOutcomeModel interface {
		accessAuditOutcomeModel
		withSession(session sqlx.Session) AccessAuditOutcomeModel
		// InsertAll writes outcomes with one multi-row INSERT: all of them
		// are committed, or (on any error) none.
		InsertAll(ctx context.Context, outcomes []*AccessAuditOutcome) error
	}

	customAccessAuditOutcomeModel struct {
		*defaultAccessAuditOutcomeModel
		insert multiRowInsert
	}
)

// NewAccessAuditOutcomeModel returns a model for the database table.
func NewAccessAuditOutcomeModel(conn sqlx.SqlConn) AccessAuditOutcomeModel {
	m := &customAccessAuditOutcomeModel{defaultAccessAuditOutcomeModel: newAccessAuditOutcomeModel(conn)}
	m.insert = newMultiRowInsert(m.table, accessAuditOutcomeRows)
	return m
}

func (m *customAccessAuditOutcomeModel) withSession(session sqlx.Session) AccessAuditOutcomeModel {
	return NewAccessAuditOutcomeModel(sqlx.NewSqlConnFromSession(session))
}

// InsertAll writes outcomes in one statement (autocommit: one transaction).
func (m *customAccessAuditOutcomeModel) InsertAll(ctx context.Context, outcomes []*AccessAuditOutcome) error {
	err := m.insert.exec(ctx, m.conn, len(outcomes), func(i int, args []any) []any {
		o := outcomes[i]
		// The order of accessAuditOutcomeRows (the struct's fields).
		return append(args, o.RequestId, o.OccurredAt, o.Status)
	})
	if err != nil {
		return fmt.Errorf("access_audit_outcome: insert %d rows: %w", len(outcomes), err)
	}
	return nil
}
