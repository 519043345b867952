package model

import (
	"context"
	"testing"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

func TestFindAllByProjectID_EmptyIsNotNil(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	got, err := NewProjectInstitutionModel(sqlx.NewSqlConnFromDB(db)).FindAllByProjectID(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Fatalf("got %#v, want an empty, non-nil slice", got)
	}
}
