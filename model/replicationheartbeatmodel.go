package model

import (
	"context"
	"fmt"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"
)

var _ ReplicationHeartbeatModel = (*customReplicationHeartbeatModel)(nil)

type (
	// ReplicationHeartbeatModel is an interface to be customized, add more methods here,
	// and implement the added methods in customReplicationHeartbeatModel.
	ReplicationHeartbeatModel interface {
		replicationHeartbeatModel
		withSession(session sqlx.Session) ReplicationHeartbeatModel
		// Beat writes (or creates) instance's row with at.
		Beat(ctx context.Context, instance uint64, at time.Time) error
		// LastBeat reads instance's row (ErrNotFound before the first beat
		// reaches this server).
		LastBeat(ctx context.Context, instance uint64) (time.Time, error)
	}

	customReplicationHeartbeatModel struct {
		*defaultReplicationHeartbeatModel
		beatQuery, lastQuery string
	}
)

// NewReplicationHeartbeatModel returns a model for the database table.
func NewReplicationHeartbeatModel(conn sqlx.SqlConn) ReplicationHeartbeatModel {
	m := &customReplicationHeartbeatModel{defaultReplicationHeartbeatModel: newReplicationHeartbeatModel(conn)}
	m.beatQuery = fmt.Sprintf("insert into %s (`instance_id`, `beat_at`) values (?, ?) on duplicate key update `beat_at` = ?", m.table)
	m.lastQuery = fmt.Sprintf("select `beat_at` from %s where `instance_id` = ? limit 1", m.table)
	return m
}

func (m *customReplicationHeartbeatModel) withSession(session sqlx.Session) ReplicationHeartbeatModel {
	return NewReplicationHeartbeatModel(sqlx.NewSqlConnFromSession(session))
}

// Beat writes instance's heartbeat.
func (m *customReplicationHeartbeatModel) Beat(ctx context.Context, instance uint64, at time.Time) error {
	if _, err := m.conn.ExecCtx(ctx, m.beatQuery, instance, at, at); err != nil {
		return fmt.Errorf("replication_heartbeat: beat: %w", err)
	}
	return nil
}

// LastBeat reads instance's heartbeat.
func (m *customReplicationHeartbeatModel) LastBeat(ctx context.Context, instance uint64) (time.Time, error) {
	var row struct {
		BeatAt time.Time `db:"beat_at"`
	}
	switch err := m.conn.QueryRowCtx(ctx, &row, m.lastQuery, instance); {
	case err == sqlx.ErrNotFound:
		return row.BeatAt, ErrNotFound
	case err != nil:
		return row.BeatAt, fmt.Errorf("replication_heartbeat: last beat: %w", err)
	}
	return row.BeatAt, nil
}
