package integration

import (
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// bigTrialSites is how many sites the heavy trial has: enough that the
// server's sorted join takes several hundred milliseconds here.
const bigTrialSites = 300_000

// loadBigTrial gives project 1 bigTrialSites sites whose names sort in a
// different order than their ids, so the join must really sort. Portable to
// MySQL 8 and MariaDB: a cross join of digits instead of a sequence engine or
// a recursive CTE (MySQL caps its recursion depth at 1000 by default).
func loadBigTrial(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		"insert into project (id, code, title, phase, status, sponsor) values (1, 'BIG-1', 'Big trial', 'III', 'active', 'Sponsor')",
		"create table digits (d int not null primary key)",
		"insert into digits values (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)",
		`insert into institution (id, code, name, city, country)
		 select n + 1, concat('I', n), concat('Site ', md5(n)), 'City', 'XX' from (
		   select a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d + 100000*g.d as n
		   from digits a, digits b, digits c, digits e, digits f, digits g where g.d < 3) s`,
		`insert into project_institution (project_id, institution_id, role, principal_investigator, enrolled)
		 select 1, id, 'participating', 'PI', 1 from institution`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("load big trial: %v", err)
		}
	}
}

// runningStatements counts statements of database dbName on the server that
// read project_institution (the sorted join), excluding this very query.
func runningStatements(t *testing.T, admin *sql.DB, dbName string) int {
	t.Helper()
	var n int
	err := admin.QueryRow(`select count(*) from information_schema.processlist
		where db = ? and command in ('Query', 'Execute')
		and info like '%project_institution%' and info not like '%processlist%'`, dbName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestServerSideDeadline_StatementStopsAtTheDeadline: the client side of a
// deadline only closes the socket; the server keeps executing the statement
// (go-sql-driver/mysql#731). With the request's remaining deadline passed to
// the server (MAX_EXECUTION_TIME / max_statement_time) the statement leaves
// the processlist at the deadline; without it, it runs until the server is
// done sorting. Both variants run here, so the test shows the difference and
// fails if the feature stops working.
func TestServerSideDeadline_StatementStopsAtTheDeadline(t *testing.T) {
	dsn := dbtest.NewDatabase(t)
	serviceDSN := dbtest.ServiceUser(t, dsn)
	admin := dbtest.Open(t, dsn)
	loadBigTrial(t, admin)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}

	// The statement's natural cost on this machine, measured now: the bounds
	// below are relative to it and to the request timeout, never absolute.
	start := time.Now()
	rows, err := admin.Query(`select i.id, i.name from project_institution pi join institution i on i.id = pi.institution_id
		where pi.project_id = 1 order by i.name, i.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	natural := time.Since(start)
	timeout := natural / 4
	t.Logf("the sorted join of %d sites takes %s here; request timeout %s", bigTrialSites, natural, timeout)
	if timeout < 50*time.Millisecond {
		t.Fatalf("the heavy read takes only %s: too fast to tell a server-side limit from none", natural)
	}

	// lingering runs one request and reports how long its statement stayed
	// on the server after the request's deadline.
	lingering := func(serverSide bool) time.Duration {
		s := servicetest.Start(t, servicetest.Config(t, serviceDSN, servicetest.Timeout(timeout), fmt.Sprintf("Mysql: {ServerSideDeadline: %v}", serverSide)))
		res := servicetest.Get(t, s.URL+"/project/1?reports=1")
		deadline := time.Now()
		if res.Status != http.StatusGatewayTimeout {
			t.Fatalf("server-side=%v: status %d, want 504", serverSide, res.Status)
		}
		for runningStatements(t, admin, cfg.DBName) > 0 {
			if time.Since(deadline) > 4*natural {
				t.Fatalf("server-side=%v: the statement still runs %s after the deadline", serverSide, time.Since(deadline))
			}
			time.Sleep(5 * time.Millisecond)
		}
		gone := time.Since(deadline)
		// Every connection is back and usable before the next variant.
		if !servicetest.Eventually(natural, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
			t.Fatalf("pool InUse = %d", s.Svc.Store.PrimaryStats().InUse)
		}
		return gone
	}

	without := lingering(false)
	with := lingering(true)
	t.Logf("statement left the server %s after the deadline with the server-side limit, %s without", with, without)
	if margin := timeout; with > margin {
		t.Errorf("with the server-side limit the statement ran %s past the deadline, want <= %s (one timeout)", with, margin)
	}
	// The control: without the limit the statement outlives the deadline by
	// far more (it runs until the server is done sorting). If it did not,
	// the workload would no longer show what the feature fixes.
	if without < 3*with || without < timeout/4 {
		t.Errorf("without the server-side limit the statement left after %s (with: %s): the workload no longer shows the problem", without, with)
	}
}
