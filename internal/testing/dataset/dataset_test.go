package dataset

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// rows generates a table with g and splits it into rows of fields.
func rows(t *testing.T, g generator) [][]string {
	t.Helper()
	var b bytes.Buffer
	w := &rowWriter{w: bufio.NewWriter(&b)}
	if _, err := g(w); err != nil {
		t.Fatal(err)
	}
	if err := w.w.Flush(); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		out = append(out, strings.Split(line, "\t"))
	}
	return out
}

// The properties the soak test's checks rely on: institutions sharing a
// name, report instants distinct and not in id order within a project,
// nullable fields sometimes NULL.
func TestSmallSetProperties(t *testing.T) {
	s := Spec{Seed: 7, Projects: 200, Institutions: 50, MaxSites: 10, MaxReports: 30,
		SummaryNullPercent: 33, SharedNamePercent: 33, ReportIDsByProject: true}
	names := map[string]int{}
	for _, r := range rows(t, s.writeInstitutions) {
		names[r[2]]++
	}
	if len(names) >= s.Institutions {
		t.Errorf("%d institutions, %d distinct names: none shared", s.Institutions, len(names))
	}
	ps := s.projects()
	keys := s.reportKeys(ps)
	var st summaryStats
	reports := rows(t, func(w *rowWriter) (int64, error) { return s.writeReports(w, keys, 0, len(keys), &st) })
	created, nulls, unordered := map[string]bool{}, 0, 0
	for i, r := range reports {
		if created[r[7]] {
			t.Fatalf("report %s: created_at %s twice", r[0], r[7])
		}
		created[r[7]] = true
		if r[6] == `\N` {
			nulls++
		}
		if i > 0 && r[1] == reports[i-1][1] && r[7] < reports[i-1][7] {
			unordered++ // a later id created earlier in the same project
		}
	}
	if nulls == 0 || unordered == 0 {
		t.Errorf("%d reports: %d without a summary, %d out of id order within their project; want some of each", len(reports), nulls, unordered)
	}
}
