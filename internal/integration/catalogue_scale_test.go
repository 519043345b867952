package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/model"
)

// digits is a derived table of 0..9, to generate rows with plain SQL on
// MySQL and MariaDB alike.
const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " +
	"UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"

// loadCatalogue fills an empty database with n·10k projects (n ≤ 10),
// 1000 institutions in 40 countries (one of them, IS, with a single
// institution) and two sites per project.
func loadCatalogue(t *testing.T, db *sql.DB, tenThousands int) {
	t.Helper()
	numbers := "(SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d AS n FROM " +
		digits + " a CROSS JOIN " + digits + " b CROSS JOIN " + digits + " c CROSS JOIN " + digits + " e CROSS JOIN " + digits + " f) numbers"
	for _, q := range []string{
		"INSERT INTO institution (id, code, name, city, country) SELECT n + 1, CONCAT('I', n), CONCAT('Site ', n), 'City', " +
			"IF(n = 999, 'IS', CONCAT(CHAR(65 + n % 39 DIV 26), CHAR(65 + n % 39 % 26))) FROM " + numbers + " WHERE n < 1000",
		fmt.Sprintf("INSERT INTO project (id, code, title, phase, status, sponsor, created_at, updated_at) "+
			"SELECT n + 1, CONCAT('P', n), 'A trial', ELT(n %% 4 + 1, 'I', 'II', 'III', 'IV'), "+
			"IF(n %% 500 = 7, 'suspended', ELT(n %% 4 + 1, 'planned', 'recruiting', 'active', 'completed')), "+
			"CONCAT('Sponsor ', n %% 200), '2020-01-01', '2020-01-01' + INTERVAL (n * 7919) %% 1000000 MINUTE FROM %s WHERE n < %d",
			numbers, tenThousands*10000),
		"INSERT INTO project_institution (project_id, institution_id) SELECT id, 1 + (id * 31) % 999 FROM project",
		"INSERT INTO project_institution (project_id, institution_id) SELECT id, 1 + (id * 17 + 5) % 999 FROM project WHERE (id * 17 + 5) % 999 <> (id * 31) % 999",
		// Institution 1000 (the one in IS) takes part in a few projects only.
		"INSERT INTO project_institution (project_id, institution_id) SELECT id, 1000 FROM project WHERE id % 9973 = 1",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.120s: %v", q, err)
		}
	}
	for _, table := range []string{"project", "project_institution", "institution"} {
		if _, err := db.Exec("ANALYZE TABLE " + table); err != nil {
			t.Fatal(err)
		}
	}
}

// handlerReads is how many rows the session's storage engine handed over
// so far (the Handler_read_* counters: index and table reads alike).
func handlerReads(t *testing.T, db *sql.DB) (total, tableScans int64) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SHOW SESSION STATUS LIKE 'Handler_read%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		total += v
		if strings.EqualFold(name, "Handler_read_rnd_next") {
			tableScans = v
		}
	}
	return total, tableScans
}

// TestCatalogue_EachFilterReadsAboutAPageOfIndexEntries: on 100k projects
// (200k sites), a page of the catalogue — first or later, for each filter
// alone — makes the server read about limit rows, whatever the table's
// size: the Handler_read_* counters of the session that ran the model's
// own query, for limit 20 and 100.
func TestCatalogue_EachFilterReadsAboutAPageOfIndexEntries(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	start := time.Now()
	loadCatalogue(t, db, 10)
	t.Logf("loaded 100k projects, 200k sites in %s", time.Since(start).Round(time.Millisecond))

	// One connection, kept: the model's queries and the counters share a session.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	projects := model.NewProjectModel(sqlx.NewSqlConnFromDB(db))
	since := time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, limit := range []int{20, 100} {
		for _, tc := range []struct {
			name string
			q    model.ProjectPageQuery
		}{
			{"none", model.ProjectPageQuery{}},
			{"status", model.ProjectPageQuery{Status: "recruiting"}},
			{"statusRare", model.ProjectPageQuery{Status: "suspended"}},
			{"phase", model.ProjectPageQuery{Phase: "III"}},
			{"sponsor", model.ProjectPageQuery{Sponsor: "Sponsor 42"}},
			{"country", model.ProjectPageQuery{Country: "BC"}},
			{"countryRare", model.ProjectPageQuery{Country: "IS"}},
			{"institution", model.ProjectPageQuery{Institution: 77}},
			{"updatedSince", model.ProjectPageQuery{UpdatedSince: &since}},
		} {
			for _, from := range []string{"first", "later"} {
				q := tc.q
				q.Limit = limit + 1 // what the logic asks for
				if from == "later" {
					q.AfterID = 50_000
					q.AfterUpdated = since.Add(24 * time.Hour)
				}
				first, firstScans := handlerReads(t, db)
				calibrate, calibrateScans := handlerReads(t, db) // what SHOW STATUS itself adds
				overhead, overheadScans := calibrate-first, calibrateScans-firstScans
				before, beforeScans := handlerReads(t, db)
				page, err := projects.FindPage(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				after, afterScans := handlerReads(t, db)
				reads := after - before - overhead
				scans := afterScans - beforeScans - overheadScans
				t.Logf("limit %d %s %s: %d projects, %d rows read (%d by table scan)", limit, tc.name, from, len(page), reads, scans)
				// A page joins each of its projects by key: about three
				// reads per project of index, join and sort of a page,
				// never the 100k of a table or index scan.
				if bound := int64(4*q.Limit + 20); reads > bound {
					t.Errorf("limit %d, %s, %s page: %d rows read for %d projects, want at most %d", limit, tc.name, from, reads, len(page), bound)
				}
			}
		}
	}
}

// siteShareCatalogue is shaped like the benchmark that found slow pages
// for a site filter combined with a column filter: 36,000 projects of 2 to
// 14 sites at 2,000 institutions in 24 countries (internal/testing/dataset),
// so that a large country has a site in about a third of the projects (SE:
// some 12,000 sites, in 28% of the projects).
var siteShareCatalogue = dataset.Spec{Seed: 20240917, Projects: 36_000, Institutions: 2_000, MinSites: 2, MaxSites: 14}

// TestCatalogue_ASiteAndAColumnFilterReadAboutAPageAtAnyCursor: a site
// filter (country or institution) with a column filter (status, phase or
// sponsor) reads, per page, about limit / selectivity index entries of the
// narrower of the two filters — on the first page, just after a low id and
// late alike — never all the sites of a large country: the Handler_read_*
// counters of the session that ran the model's own query, for limit 20 and
// 100. Large and rare sites (a country of one institution, an institution)
// meet common and rare column values. Each page is also checked against
// the ids plain SQL gives for the same filters.
func TestCatalogue_ASiteAndAColumnFilterReadAboutAPageAtAnyCursor(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))
	loaded, err := siteShareCatalogue.Load(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A rare country: institution 1 alone, with its ~140 projects.
	for _, q := range []string{"UPDATE institution SET country = 'IS' WHERE id = 1", "ANALYZE TABLE project_institution", "ANALYZE TABLE institution"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Logf("loaded %d projects, %d sites in %s", loaded.Projects, loaded.Sites, loaded.Duration.Round(time.Millisecond))

	// One connection, kept: the model's queries and the counters share a session.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	count := func(query string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	const inSE = "EXISTS (SELECT 1 FROM project_institution pi WHERE pi.project_id = p.id AND pi.country = 'SE')"
	if se, all := count("SELECT COUNT(*) FROM project p WHERE "+inSE), count("SELECT COUNT(*) FROM project"); 4*se < all {
		t.Fatalf("SE has a site in %d of %d projects: the data set no longer has a country as large as the benchmark's", se, all)
	}
	var sponsor string // the sponsor of the fewest projects
	if err := db.QueryRow("SELECT sponsor FROM project GROUP BY sponsor ORDER BY COUNT(*), sponsor LIMIT 1").Scan(&sponsor); err != nil {
		t.Fatal(err)
	}

	projects := model.NewProjectModel(sqlx.NewSqlConnFromDB(db))
	type filter struct {
		cond string // on pi (a site) or p (a project)
		arg  any
	}
	for _, tc := range []struct {
		name         string
		q            model.ProjectPageQuery
		site, column filter
	}{
		// The benchmark's: a third of the projects have a site in SE, half are completed.
		{"SE+completed", model.ProjectPageQuery{Country: "SE", Status: "completed"}, filter{"pi.country = ?", "SE"}, filter{"p.status = ?", "completed"}},
		{"SE+phaseIII", model.ProjectPageQuery{Country: "SE", Phase: "III"}, filter{"pi.country = ?", "SE"}, filter{"p.phase = ?", "III"}},
		{"SE+suspended", model.ProjectPageQuery{Country: "SE", Status: "suspended"}, filter{"pi.country = ?", "SE"}, filter{"p.status = ?", "suspended"}},
		{"US+rareSponsor", model.ProjectPageQuery{Country: "US", Sponsor: sponsor}, filter{"pi.country = ?", "US"}, filter{"p.sponsor = ?", sponsor}},
		{"IS+completed", model.ProjectPageQuery{Country: "IS", Status: "completed"}, filter{"pi.country = ?", "IS"}, filter{"p.status = ?", "completed"}},
		{"institution+completed", model.ProjectPageQuery{Institution: 77, Status: "completed"}, filter{"pi.institution_id = ?", 77}, filter{"p.status = ?", "completed"}},
	} {
		for _, cursor := range []uint64{0, 1000, 2500, 30_000} {
			// What the page must hold, and how many entries each filter's
			// index has past the cursor.
			want := idsWhere(t, db, tc.column.cond+" AND p.id > ? AND EXISTS (SELECT 1 FROM project_institution pi WHERE pi.project_id = p.id AND "+tc.site.cond+")",
				tc.column.arg, cursor, tc.site.arg)
			siteEntries := count("SELECT COUNT(*) FROM project_institution pi WHERE "+tc.site.cond+" AND pi.project_id > ?", tc.site.arg, cursor)
			columnEntries := count("SELECT COUNT(*) FROM project p WHERE "+tc.column.cond+" AND p.id > ?", tc.column.arg, cursor)
			for _, limit := range []int{20, 100} {
				q := tc.q
				q.Limit = limit + 1 // what the logic asks for
				q.AfterID = cursor
				first, firstScans := handlerReads(t, db)
				calibrate, calibrateScans := handlerReads(t, db) // what SHOW STATUS itself adds
				overhead, overheadScans := calibrate-first, calibrateScans-firstScans
				before, beforeScans := handlerReads(t, db)
				page, err := projects.FindPage(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				after, afterScans := handlerReads(t, db)
				reads := after - before - overhead
				scans := afterScans - beforeScans - overheadScans

				n := min(q.Limit, len(want))
				got := make([]uint64, len(page))
				for i, p := range page {
					got[i] = p.Id
				}
				if !slices.Equal(got, want[:n]) {
					t.Fatalf("limit %d, %s after %d: page %v, want %v", limit, tc.name, cursor, got, want[:n])
				}
				// Walking the narrower filter's index past the cursor finds
				// the page's n projects after about n / selectivity entries
				// (all of them when the page is the last), each checked
				// against the other filter with an index read; the page's
				// projects are then read by key, about three reads each.
				// The server picks its walk by row estimates, which can be
				// off by a factor of two: allowed, two reads per entry of
				// twice that walk. A filter of a few pages past the cursor
				// (at most 8 limits of entries) may be read in full, a sort
				// of it included. Reading a large country's sites in full,
				// as a semi-join materialization does, is about ten times
				// the bound.
				narrower := min(siteEntries, columnEntries)
				walk := narrower
				if n < len(want) && narrower > 8*int64(q.Limit) {
					walk = (int64(n)*narrower + int64(len(want)) - 1) / int64(len(want))
				}
				bound := 4*walk + 4*int64(n) + 30
				t.Logf("limit %d %s after %d: %d projects, %d rows read (%d by table scan); bound %d: %d matches past the cursor, %d site entries, %d projects of the column value",
					limit, tc.name, cursor, len(page), reads, scans, bound, len(want), siteEntries, columnEntries)
				if reads > bound {
					t.Errorf("limit %d, %s, after %d: %d rows read for %d projects, want at most %d (about %d entries of the narrower filter's index to walk)",
						limit, tc.name, cursor, reads, len(page), bound, walk)
				}
			}
		}
	}
}

// TestCatalogue_AWalkWhileRowsChangeSeesEveryProjectOnce walks the whole
// catalogue page by page while other clients insert projects and update
// existing ones: every project that existed for the whole walk appears
// exactly once — no gap, no duplicate. With updated_since the order is by
// last update, so a project updated during the walk comes again at its new
// place (its new values): none is missed, and those not updated appear once.
func TestCatalogue_AWalkWhileRowsChangeSeesEveryProjectOnce(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, admin, _ := securedDatabase(t)
	loadMore := "INSERT INTO project (code, title, phase, status, sponsor, updated_at) " +
		"SELECT CONCAT('W', a.d + 10*b.d + 100*c.d), 'walk', 'II', 'active', 'Walker', '2025-06-01' + INTERVAL (a.d + 10*b.d + 100*c.d) MINUTE FROM " +
		digits + " a CROSS JOIN " + digits + " b CROSS JOIN " + digits + " c"
	if _, err := admin.Exec(loadMore); err != nil {
		t.Fatal(err)
	}
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	existing := idsWhere(t, admin, "1")

	for _, walkPath := range []string{"/projects?limit=37", "/projects?limit=37&updated_since=2020-01-01T00:00:00Z"} {
		t.Run(walkPath, func(t *testing.T) {
			ctx, stop := context.WithCancel(context.Background())
			var writers sync.WaitGroup
			var updated sync.Map // id -> true
			var inserted, updates atomic.Int64
			// Two writers insert; one updates. The updates are serial and each
			// sets a later updated_at than every earlier one (now + i s), as
			// ON UPDATE CURRENT_TIMESTAMP does when at most one update lands
			// in a second: an updated project moves to the end of the
			// updated_since order. (Two updaters with their own offsets
			// moved projects backwards past the walk: a gap no real clock
			// makes. What a real clock can make - two updates in the second
			// the walk is reading - is in the README's advice to sync with
			// an overlap.)
			for w := range 3 {
				writers.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 99))
					for i := 0; ctx.Err() == nil; i++ {
						if w != 1 {
							if _, err := admin.Exec("INSERT INTO project (code, title, phase, status, sponsor) VALUES (?, 'new', 'I', 'planned', 'Walker')",
								fmt.Sprintf("N%d-%d-%d", w, i, time.Now().UnixNano())); err == nil {
								inserted.Add(1)
							}
							continue
						}
						id := existing[rng.IntN(len(existing))]
						updated.Store(id, true) // before: a concurrent page may already show the new value
						if _, err := admin.Exec("UPDATE project SET title = ?, updated_at = UTC_TIMESTAMP() + INTERVAL ? SECOND WHERE id = ?",
							fmt.Sprintf("updated %d", i), i, id); err == nil {
							updates.Add(1)
						}
					}
				})
			}
			got, pages := walk(t, s.URL, walkPath, office)
			stop()
			writers.Wait()
			seen := map[uint64]int{}
			for _, id := range got {
				seen[id]++
			}
			byUpdate := strings.Contains(walkPath, "updated_since")
			for _, id := range existing {
				_, wasUpdated := updated.Load(id)
				switch n := seen[id]; {
				case n == 0:
					t.Fatalf("project %d existed for the whole walk but no page showed it (gap)", id)
				case n > 1 && !(byUpdate && wasUpdated):
					t.Fatalf("project %d was shown %d times (duplicate)", id, n)
				}
			}
			if inserted.Load() == 0 || updates.Load() < 50 {
				t.Fatalf("%d inserts, %d updates during the walk: the walk did not race the writers", inserted.Load(), updates.Load())
			}
			t.Logf("%d projects in %d pages, while %d were inserted and %d updates made", len(got), pages, inserted.Load(), updates.Load())
		})
	}
}
