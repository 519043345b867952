package model

import (
	"context"
	"fmt"
	"testing"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

func TestFindByProjectID_EmptyIsNotNil(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	got, err := NewProjectInstitutionModel(sqlx.NewSqlConnFromDB(db)).FindByProjectID(context.Background(), 1, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || len(got) != 0 {
		t.Fatalf("got %#v, want an empty, non-nil slice", got)
	}
}

// TestFindByProjectID_PagesByNameThenIDWithoutGapOrRepeat: walking a
// project's institutions page by page gives each once, by name then id —
// institutions sharing a name included.
func TestFindByProjectID_PagesByNameThenIDWithoutGapOrRepeat(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	for i := 1; i <= 17; i++ {
		name := fmt.Sprintf("Site %02d", 17-i/2) // pairs share a name, inserted out of order
		if _, err := db.Exec("insert into institution (id, code, name, country) values (?, ?, ?, 'DK')", i, fmt.Sprintf("I-%d", i), name); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("insert into project_institution (project_id, institution_id) values (3, ?), (4, ?)", i, i); err != nil {
			t.Fatal(err)
		}
	}
	var country string
	if err := db.QueryRow("select country from project_institution where project_id = 3 and institution_id = 5").Scan(&country); err != nil || country != "DK" {
		t.Fatalf("a site's country %q (%v): the trigger did not copy its institution's", country, err)
	}
	m := NewProjectInstitutionModel(sqlx.NewSqlConnFromDB(db))
	var walked []*ProjectInstitutionDetail
	var after *SiteKey
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the walk does not end")
		}
		got, err := m.FindByProjectID(context.Background(), 3, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, got...)
		if len(got) < 5 {
			break
		}
		last := got[len(got)-1]
		after = &SiteKey{Name: last.Name, Id: last.Id}
	}
	if len(walked) != 17 {
		t.Fatalf("walked %d institutions, want 17", len(walked))
	}
	for i := 1; i < len(walked); i++ {
		prev, cur := walked[i-1], walked[i]
		if cur.Name < prev.Name || (cur.Name == prev.Name && cur.Id <= prev.Id) {
			t.Fatalf("%s/%d after %s/%d: not by name then id, or repeated", cur.Name, cur.Id, prev.Name, prev.Id)
		}
	}
	if _, err := db.Exec("update institution set country = 'SE' where id = 5"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("select count(*) from project_institution where institution_id = 5 and country = 'SE'").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d sites of institution 5 followed its move to SE (%v), want 2", n, err)
	}
}
