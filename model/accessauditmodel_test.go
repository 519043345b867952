package model

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

// TestInsertAll_WritesEveryRowAndOutcomeOnARealDatabase: the multi-row
// INSERTs of the audit trail write each row's every column, for 1 and for
// several rows (the placeholders and the argument order must agree with the
// generated column lists), and a statement with one bad row writes none.
func TestInsertAll_WritesEveryRowAndOutcomeOnARealDatabase(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	conn := sqlx.NewSqlConnFromDB(db)
	rows, outcomes := NewAccessAuditModel(conn), NewAccessAuditOutcomeModel(conn)
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 10, 11, 12, 345678000, time.UTC)
	want := make([]*AccessAudit, 5)
	for i := range want {
		want[i] = &AccessAudit{RequestId: "0123456789abcdef0123456789abcdef", OccurredAt: at.Add(time.Duration(i) * time.Microsecond),
			Subject: "subject-" + string(rune('a'+i)), ClientId: "client", ProjectId: sql.NullInt64{Int64: int64(40 + i), Valid: true},
			Method: "HEAD", Route: "/projects", Status: uint64(200 + i), GrantedBy: "project:read", TraceId: "trace"}
	}
	want[4].ProjectId = sql.NullInt64{} // an answer naming no project
	if err := rows.InsertAll(ctx, want[:1]); err != nil {
		t.Fatal(err)
	}
	if err := rows.InsertAll(ctx, want[1:]); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got, err := rows.FindOne(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		w.Id = got.Id
		if got.OccurredAt.Equal(w.OccurredAt) {
			got.OccurredAt = w.OccurredAt // the same instant, in the driver's location
		}
		if *got != *w {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, *got, *w)
		}
	}
	bad := []*AccessAudit{{RequestId: "r", OccurredAt: at, Subject: "ok", Method: "GET", Status: 200},
		{RequestId: "r", OccurredAt: at, Subject: string(make([]byte, 300)), Method: "GET", Status: 200},
		{RequestId: "r", OccurredAt: at, Subject: "ok-too", Method: "GET", Status: 200}}
	if err := rows.InsertAll(ctx, bad); err == nil {
		t.Fatal("a statement with an over-long subject succeeded")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM access_audit").Scan(&n); err != nil || n != len(want) {
		t.Fatalf("%d rows after the failed statement (%v), want %d: a statement is all or nothing", n, err, len(want))
	}

	o := []*AccessAuditOutcome{{RequestId: "a", OccurredAt: at, Status: 504}, {RequestId: "b", OccurredAt: at, Status: 404}, {RequestId: "c", OccurredAt: at, Status: 503}}
	if err := outcomes.InsertAll(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, w := range o {
		got, err := outcomes.FindOne(ctx, w.RequestId)
		if err != nil || got.Status != w.Status || !got.OccurredAt.Equal(w.OccurredAt) {
			t.Fatalf("outcome %s: %+v %v, want %+v", w.RequestId, got, err, w)
		}
	}
	if err := outcomes.InsertAll(ctx, o[:1]); err == nil {
		t.Fatal("a second outcome for one request was accepted")
	}
}
