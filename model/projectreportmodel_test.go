package model

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(dbtest.Main(m)))
}

// TestFindLatestByProjectID_IndexRangeWithoutFilesort checks the plan of the
// finder's own query on a table with enough rows (40 projects x 50 reports)
// that the optimizer has a real choice.
func TestFindLatestByProjectID_IndexRangeWithoutFilesort(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	var values []string
	for p := 1; p <= 40; p++ {
		for r := 1; r <= 50; r++ {
			values = append(values, fmt.Sprintf("(%d,'r','safety','2024-01-01 00:00:00' + INTERVAL %d HOUR)", p, r*7%50))
		}
	}
	if _, err := db.Exec("insert into project_report (project_id,title,report_type,created_at) values " + strings.Join(values, ",")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("analyze table project_report"); err != nil {
		t.Fatal(err)
	}
	m := NewProjectReportModel(sqlx.NewSqlConnFromDB(db)).(*customProjectReportModel)

	rows, err := db.Query("explain "+m.latestQuery, 7, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plans []map[string]string
	for rows.Next() {
		raw := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		plan := map[string]string{}
		for i, c := range cols {
			plan[c] = raw[i].String
		}
		plans = append(plans, plan)
	}
	if len(plans) != 1 {
		t.Fatalf("EXPLAIN gave %d rows, want 1: %v", len(plans), plans)
	}
	p := plans[0]
	if p["key"] != "idx_project_report_latest" {
		t.Errorf("key = %q, want idx_project_report_latest (plan %v)", p["key"], p)
	}
	if p["type"] != "ref" && p["type"] != "range" {
		t.Errorf("access type = %q, want an index ref/range (plan %v)", p["type"], p)
	}
	if strings.Contains(strings.ToLower(p["Extra"]), "filesort") {
		t.Errorf("Extra = %q: the query sorts instead of reading the index in order", p["Extra"])
	}

	// And it returns what it promises: newest first, at most limit.
	got, err := m.FindLatestByProjectID(context.Background(), 7, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d reports, want 10", len(got))
	}
	for i := 1; i < len(got); i++ {
		prev, cur := got[i-1], got[i]
		if cur.CreatedAt.After(prev.CreatedAt) || (cur.CreatedAt.Equal(prev.CreatedAt) && cur.Id > prev.Id) {
			t.Fatalf("report %d (%s) after report %d (%s): not newest first", cur.Id, cur.CreatedAt, prev.Id, prev.CreatedAt)
		}
		if cur.ProjectId != 7 {
			t.Fatalf("report of project %d in project 7's list", cur.ProjectId)
		}
	}
}

// TestFindLatestByProjectID_PagesBackInTimeWithoutGapOrRepeat: walking a
// project's reports page by page, from each page's last key, gives every
// report once, newest first — ties of created_at included.
func TestFindLatestByProjectID_PagesBackInTimeWithoutGapOrRepeat(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	var values []string
	for r := 1; r <= 23; r++ {
		// Three reports per hour: created_at ties, told apart by id.
		values = append(values, fmt.Sprintf("(5,'r%d','safety','2024-01-01 00:00:00' + INTERVAL %d HOUR)", r, r/3))
	}
	values = append(values, "(6,'other','safety','2024-01-01 00:00:00')")
	if _, err := db.Exec("insert into project_report (project_id,title,report_type,created_at) values " + strings.Join(values, ",")); err != nil {
		t.Fatal(err)
	}
	m := NewProjectReportModel(sqlx.NewSqlConnFromDB(db))
	var walked []*ProjectReport
	var before *ReportKey
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the walk does not end")
		}
		got, err := m.FindLatestByProjectID(context.Background(), 5, before, 4)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, got...)
		if len(got) < 4 {
			break
		}
		last := got[len(got)-1]
		before = &ReportKey{CreatedAt: last.CreatedAt, Id: last.Id}
	}
	if len(walked) != 23 {
		t.Fatalf("walked %d reports, want the project's 23", len(walked))
	}
	seen := map[uint64]bool{}
	for i, r := range walked {
		if r.ProjectId != 5 || seen[r.Id] {
			t.Fatalf("report %d: project %d, seen before %v", r.Id, r.ProjectId, seen[r.Id])
		}
		seen[r.Id] = true
		if i > 0 {
			prev := walked[i-1]
			if r.CreatedAt.After(prev.CreatedAt) || (r.CreatedAt.Equal(prev.CreatedAt) && r.Id > prev.Id) {
				t.Fatalf("report %d after %d: not newest first", r.Id, prev.Id)
			}
		}
	}
}
