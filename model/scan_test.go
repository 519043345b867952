package model_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/model"
)

// TestScanners_ReadWhatGoZerosMappingReads: the service's explicit scanning
// (svc's connection) and go-zero's reflective mapping (a plain
// sqlx.NewSqlConnFromDB) read the same values from the same rows — NULLs,
// dates, times, empty lists and missing projects included. A scanner out of
// step with its generated struct or column list fails here.
func TestScanners_ReadWhatGoZerosMappingReads(t *testing.T) {
	dsn := dbtest.NewDatabase(t, "sql/seed.sql")
	s, err := svc.NewServiceContext(servicetest.Config(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	plain := sqlx.NewSqlConnFromDB(dbtest.Open(t, dsn))
	reflective := struct {
		p  model.ProjectModel
		pi model.ProjectInstitutionModel
		pr model.ProjectReportModel
	}{model.NewProjectModel(plain), model.NewProjectInstitutionModel(plain), model.NewProjectReportModel(plain)}
	ctx := context.Background()
	compared := 0
	for id := uint64(1); id <= 4; id++ {
		a, errA := s.ProjectModel.FindOne(ctx, id)
		b, errB := reflective.p.FindOne(ctx, id)
		if errA != errB || !reflect.DeepEqual(a, b) {
			t.Fatalf("project %d: scanned %+v (%v), mapped %+v (%v)", id, a, errA, b, errB)
		}
		ia, errA := s.ProjectInstitutionModel.FindAllByProjectID(ctx, id)
		ib, errB := reflective.pi.FindAllByProjectID(ctx, id)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual([]*model.ProjectInstitutionDetail(ia), []*model.ProjectInstitutionDetail(ib)) {
			t.Fatalf("institutions of %d: scanned %v (%v), mapped %v (%v)", id, ia, errA, ib, errB)
		}
		ra, errA := s.ProjectReportModel.FindLatestByProjectID(ctx, id, 100)
		rb, errB := reflective.pr.FindLatestByProjectID(ctx, id, 100)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(ra, rb) {
			t.Fatalf("reports of %d: scanned %v (%v), mapped %v (%v)", id, ra, errA, rb, errB)
		}
		compared += len(ia) + len(ra)
		if a != nil {
			compared++
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d rows: the seed data should give more", compared)
	}
	if _, err := s.ProjectModel.FindOne(ctx, 999999); err != model.ErrNotFound {
		t.Fatalf("missing project: %v, want model.ErrNotFound", err)
	}
}
