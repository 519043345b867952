package integration

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// The catalogue's answers are checked against what the database holds,
// asked independently with plain SQL on the admin connection — never
// against the service's own code.

// idsWhere are the ids of the seeded projects matching cond, in id order.
func idsWhere(t *testing.T, admin *sql.DB, cond string, args ...any) []uint64 {
	t.Helper()
	rows, err := admin.Query("SELECT p.id FROM project p WHERE "+cond+" ORDER BY p.id", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []uint64{}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

type projectPage struct {
	Projects []struct {
		ID        uint64 `json:"id"`
		Status    string `json:"status"`
		UpdatedAt string `json:"updated_at"`
	} `json:"projects"`
	NextCursor *string `json:"next_cursor"`
}

var linkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// walk follows a list from path page by page through its Link headers,
// checking each page against its next_cursor, and returns the ids in order
// and the number of pages.
func walk(t *testing.T, base, path string, h http.Header) (ids []uint64, pages int) {
	t.Helper()
	for next := path; next != ""; pages++ {
		if pages > 200 {
			t.Fatalf("%s: more than 200 pages", path)
		}
		res := servicetest.Do(t, http.MethodGet, base+next, h)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, res.Status, res.Body)
		}
		var p projectPage
		if err := json.Unmarshal([]byte(res.Body), &p); err != nil {
			t.Fatal(err)
		}
		for _, pr := range p.Projects {
			ids = append(ids, pr.ID)
		}
		link := res.Header.Get("Link")
		switch {
		case p.NextCursor == nil && link != "":
			t.Fatalf("GET %s: the last page has a Link %q", next, link)
		case p.NextCursor == nil:
			next = ""
		default:
			m := linkNext.FindStringSubmatch(link)
			if m == nil {
				t.Fatalf("GET %s: next_cursor but Link %q", next, link)
			}
			u, err := url.Parse(m[1])
			if err != nil || u.Query().Get("cursor") != *p.NextCursor || u.Path != strings.SplitN(path, "?", 2)[0] {
				t.Fatalf("GET %s: Link %q does not continue %s with next_cursor %q", next, link, path, *p.NextCursor)
			}
			next = m[1]
		}
	}
	return ids, pages
}

func TestCatalogue_FiltersPagesAndGrants(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice, siteAarhus)
	dsn, admin, _ := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	aarhus := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, siteAarhus.ID, siteAarhus.Secret, auth.ScopeRead)}}

	all := idsWhere(t, admin, "1")
	if len(all) < 40 {
		t.Fatalf("the seed has %d projects: too few to page through", len(all))
	}
	for _, tc := range []struct {
		query, cond string
		args        []any
	}{
		{"", "1", nil},
		{"status=planned", "p.status = ?", []any{"planned"}},
		{"phase=III", "p.phase = ?", []any{"III"}},
		{"sponsor=" + url.QueryEscape("Helix Oncology Inc."), "p.sponsor = ?", []any{"Helix Oncology Inc."}},
		{"country=DK", "EXISTS (SELECT 1 FROM project_institution pi JOIN institution i ON i.id = pi.institution_id WHERE pi.project_id = p.id AND i.country = ?)", []any{"DK"}},
		{"institution=2", "EXISTS (SELECT 1 FROM project_institution pi WHERE pi.project_id = p.id AND pi.institution_id = ?)", []any{2}},
		{"status=recruiting&country=DE", "p.status = ? AND EXISTS (SELECT 1 FROM project_institution pi JOIN institution i ON i.id = pi.institution_id WHERE pi.project_id = p.id AND i.country = ?)", []any{"recruiting", "DE"}},
		{"status=nothing-has-this", "p.status = ?", []any{"nothing-has-this"}},
	} {
		want := idsWhere(t, admin, tc.cond, tc.args...)
		for _, limit := range []int{1, 3, 20, 100} {
			path := fmt.Sprintf("/projects?limit=%d", limit)
			if tc.query != "" {
				path += "&" + tc.query
			}
			got, pages := walk(t, s.URL, path, office)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: walked %v, want %v", path, got, want)
			}
			if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages && pages != wantPages+1 {
				t.Fatalf("%s: %d pages for %d projects", path, pages, len(want))
			}
		}
	}

	// updated_since: every project updated at or after it, by (updated_at, id).
	since := "2025-03-20T00:00:00Z"
	rows, err := admin.Query("SELECT id FROM project WHERE updated_at >= '2025-03-20 00:00:00' ORDER BY updated_at, id")
	if err != nil {
		t.Fatal(err)
	}
	var wantSince []uint64
	for rows.Next() {
		var id uint64
		_ = rows.Scan(&id)
		wantSince = append(wantSince, id)
	}
	rows.Close()
	if got, _ := walk(t, s.URL, "/projects?limit=4&updated_since="+since, office); !slices.Equal(got, wantSince) || len(wantSince) < 5 {
		t.Fatalf("updated_since %s: walked %v, want %v (by last update)", since, got, wantSince)
	}

	// project:read reads its projects only, whatever the filters; nothing
	// hints at the others.
	if got, _ := walk(t, s.URL, "/projects?limit=1", aarhus); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("site-aarhus walked %v, want [1]", got)
	}
	if got, _ := walk(t, s.URL, "/projects?status=planned", aarhus); len(got) != 0 {
		t.Fatalf("site-aarhus, status=planned: %v, want nothing (project 1 is recruiting)", got)
	}
}

func TestCatalogue_RefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, _, _ := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	first := servicetest.Do(t, http.MethodGet, s.URL+"/projects?limit=2&status=recruiting", office)
	var p projectPage
	if err := json.Unmarshal([]byte(first.Body), &p); err != nil || p.NextCursor == nil {
		t.Fatalf("the first page of recruiting projects has no next_cursor: %s", first.Body)
	}
	cursor := url.QueryEscape(*p.NextCursor)
	for _, q := range []string{
		"stauts=recruiting",            // unknown parameter
		"status=active&status=planned", // repeated
		"limit=0", "limit=101", "limit=x",
		"cursor=not-a-cursor", "cursor=" + cursor[:len(cursor)-3],
		"cursor=" + cursor + "&status=planned", // another filter's cursor
		"cursor=" + cursor,                     // no filter: another list
		"cursor=" + cursor + "&status=recruiting&phase=III",
		"institution=abc", "institution=0", "institution=07", "institution=-1",
		"updated_since=yesterday", "updated_since=2024-13-01T00:00:00Z",
		"status=" + strings.Repeat("x", 33),
	} {
		res := servicetest.Do(t, http.MethodGet, s.URL+"/projects?"+q, office)
		if res.Status != http.StatusBadRequest || servicetest.ErrorCode(t, res.Body) != "invalid_argument" {
			t.Fatalf("?%s: %d %s, want 400 invalid_argument", q, res.Status, res.Body)
		}
	}
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/projects?limit=2&status=recruiting&cursor="+cursor, office); res.Status != http.StatusOK {
		t.Fatalf("the cursor with its own filters: %d %s", res.Status, res.Body)
	}
}

// TestCatalogue_APageIsAuditedProjectByProject: every project on a page is
// a row of its request; an empty page is one row naming none; 304 and
// HEAD are answers like a 200.
func TestCatalogue_APageIsAuditedProjectByProject(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, admin, _ := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}

	res := servicetest.Do(t, http.MethodGet, s.URL+"/projects?limit=5&phase=II", office)
	var p projectPage
	if err := json.Unmarshal([]byte(res.Body), &p); err != nil || res.Status != http.StatusOK || len(p.Projects) != 5 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	etag := res.Header.Get("ETag")
	conditional := office.Clone()
	conditional.Set("If-None-Match", etag)
	if nm := servicetest.Do(t, http.MethodGet, s.URL+"/projects?limit=5&phase=II", conditional); nm.Status != http.StatusNotModified || nm.Body != "" {
		t.Fatalf("If-None-Match the page's ETag: %d %q", nm.Status, nm.Body)
	}
	if head := servicetest.Do(t, http.MethodHead, s.URL+"/projects?limit=5&phase=II", office); head.Status != http.StatusOK || head.Body != "" || head.Header.Get("ETag") != etag {
		t.Fatalf("HEAD: %d %q ETag %q", head.Status, head.Body, head.Header.Get("ETag"))
	}
	empty := servicetest.Do(t, http.MethodGet, s.URL+"/projects?status=none", office)

	rows := auditRows(t, admin)
	byRequest := map[string][]auditRow{}
	var order []string
	for _, r := range rows {
		if _, seen := byRequest[r.RequestID]; !seen {
			order = append(order, r.RequestID)
		}
		byRequest[r.RequestID] = append(byRequest[r.RequestID], r)
	}
	if len(order) != 4 {
		t.Fatalf("%d requests in the trail, want 4: %+v", len(order), rows)
	}
	want := []uint64{}
	for _, pr := range p.Projects {
		want = append(want, pr.ID)
	}
	for i, status := range []int{200, 304, 200} {
		got := []uint64{}
		for _, r := range byRequest[order[i]] {
			if r.Status != status || r.Route != "/projects" || r.GrantedBy != auth.ScopeReadAll || !r.ProjectID.Valid {
				t.Fatalf("answer %d: row %+v, want %d on /projects by project:read:all", i, r, status)
			}
			got = append(got, uint64(r.ProjectID.Int64))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("answer %d disclosed %v, its rows name %v", i, want, got)
		}
	}
	if e := byRequest[order[3]]; len(e) != 1 || e[0].ProjectID.Valid || e[0].Status != 200 || e[0].RequestID != empty.Header.Get("X-Request-Id") {
		t.Fatalf("the empty page's rows %+v, want one naming no project", e)
	}
}

// TestRecord_ASubListGoesOnWhereTheRecordStops: project 7 has more sites
// and reports than a record shows; its *_next cursors continue in the
// sub-list routes, which give every site and report exactly once, in order.
func TestRecord_ASubListGoesOnWhereTheRecordStops(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice, siteAarhus)
	dsn, admin, _ := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL), "Record: {Institutions: 50}"))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}

	type item struct {
		ID   uint64 `json:"id"`
		Name string `json:"name"`
	}
	var record struct {
		Institutions     []item  `json:"institutions"`
		InstitutionsNext *string `json:"institutions_next"`
		Reports          []item  `json:"reports"`
		ReportsNext      *string `json:"reports_next"`
	}
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/7", office)
	if err := json.Unmarshal([]byte(res.Body), &record); err != nil || res.Status != http.StatusOK {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if len(record.Institutions) != 50 || record.InstitutionsNext == nil || len(record.Reports) != 10 || record.ReportsNext == nil {
		t.Fatalf("the record of project 7: %d sites (next %v), %d reports (next %v); want 50 and 10 with cursors",
			len(record.Institutions), record.InstitutionsNext != nil, len(record.Reports), record.ReportsNext != nil)
	}
	follow := func(route, key string, first []item, cursor string) []uint64 {
		ids := []uint64{}
		for _, it := range first {
			ids = append(ids, it.ID)
		}
		for cursor != "" {
			res := servicetest.Do(t, http.MethodGet, s.URL+route+"?limit=17&cursor="+url.QueryEscape(cursor), office)
			var page map[string]json.RawMessage
			if err := json.Unmarshal([]byte(res.Body), &page); err != nil || res.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", route, res.Status, res.Body)
			}
			var items []item
			_ = json.Unmarshal(page[key], &items)
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			var next *string
			_ = json.Unmarshal(page["next_cursor"], &next)
			cursor = ""
			if next != nil {
				cursor = *next
			}
		}
		return ids
	}
	sites := follow("/project/7/institutions", "institutions", record.Institutions, *record.InstitutionsNext)
	reports := follow("/project/7/reports", "reports", record.Reports, *record.ReportsNext)
	wantSites := idsOf(t, admin, "SELECT i.id FROM project_institution pi JOIN institution i ON i.id = pi.institution_id WHERE pi.project_id = 7 ORDER BY i.name, i.id")
	wantReports := idsOf(t, admin, "SELECT id FROM project_report WHERE project_id = 7 ORDER BY created_at DESC, id DESC")
	if !slices.Equal(sites, wantSites) || len(wantSites) != 120 {
		t.Fatalf("sites %v, want %v", sites, wantSites)
	}
	if !slices.Equal(reports, wantReports) || len(wantReports) != 25 {
		t.Fatalf("reports %v, want %v", reports, wantReports)
	}

	// A sub-list is refused like its record: outside the grant (404), a
	// cursor of another project's list (400), a missing project (404).
	aarhus := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, siteAarhus.ID, siteAarhus.Secret, auth.ScopeRead)}}
	for _, tc := range []struct {
		path   string
		h      http.Header
		status int
	}{
		{"/project/7/institutions", aarhus, http.StatusNotFound},
		{"/project/7/reports", aarhus, http.StatusNotFound},
		{"/project/1/institutions?cursor=" + url.QueryEscape(*record.InstitutionsNext), office, http.StatusBadRequest},
		{"/project/7/reports?cursor=" + url.QueryEscape(*record.InstitutionsNext), office, http.StatusBadRequest},
		{"/project/999/reports", office, http.StatusNotFound},
		{"/project/7/reports?limit=101", office, http.StatusBadRequest},
		{"/project/1/institutions", aarhus, http.StatusOK},
	} {
		if res := servicetest.Do(t, http.MethodGet, s.URL+tc.path, tc.h); res.Status != tc.status {
			t.Fatalf("GET %s: %d %s, want %d", tc.path, res.Status, res.Body, tc.status)
		}
	}
}

func idsOf(t *testing.T, db *sql.DB, q string) []uint64 {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []uint64{}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}
