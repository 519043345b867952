package bench

import (
	"context"
	"testing"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/model"
)

// recordingConn runs no SQL and records the statements it is given.
type recordingConn struct {
	sqlx.SqlConn
	sent *[]string
}

func (c recordingConn) QueryRowCtx(ctx context.Context, v any, q string, args ...any) error {
	*c.sent = append(*c.sent, q)
	return c.SqlConn.QueryRowCtx(ctx, v, q, args...)
}

func (c recordingConn) QueryRowsCtx(ctx context.Context, v any, q string, args ...any) error {
	*c.sent = append(*c.sent, q)
	return c.SqlConn.QueryRowsCtx(ctx, v, q, args...)
}

// The plain baseline sends the statements the service's models send, so
// the database does the same work for both.
func TestPlainSendsTheModelsSQL(t *testing.T) {
	var sent []string
	conn := recordingConn{SqlConn: fakes.NotFaked, sent: &sent}
	ctx := context.Background()
	_, _ = model.NewProjectModel(conn).FindOne(ctx, 1)
	_, _ = model.NewProjectInstitutionModel(conn).FindByProjectID(ctx, 1, nil, 101)
	_, _ = model.NewProjectReportModel(conn).FindLatestByProjectID(ctx, 1, nil, 11)
	want := []string{plainProjectSQL, plainSitesSQL, plainReportsSQL}
	if len(sent) != len(want) {
		t.Fatalf("the models sent %d statements, want %d: %q", len(sent), len(want), sent)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Errorf("statement %d:\nmodel %s\nplain %s", i, sent[i], want[i])
		}
	}
}
