package integration

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// The platforms of the access tests.
var (
	trialOffice = oidctest.Client{ID: "trial-office", Secret: "office-secret", Subject: "svc-trial-office", Scopes: []string{auth.ScopeReadAll}}
	siteAarhus  = oidctest.Client{ID: "site-aarhus", Secret: "aarhus-secret", Scopes: []string{auth.ScopeRead}, ProjectIDs: []uint64{1}}
)

// securedDatabase is a seeded database, the service's least-privilege user
// on it (sql/grants.sql), and an admin pool to read the audit trail.
func securedDatabase(t *testing.T) (serviceDSN string, admin *sql.DB, dbName string) {
	t.Helper()
	dsn := dbtest.NewDatabase(t, "sql/seed.sql")
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return dbtest.ServiceUser(t, dsn), dbtest.Open(t, dsn), cfg.DBName
}

// auditRow is a row of access_audit with the status its client received
// (its request's access_audit_outcome, where there is one).
type auditRow struct {
	Subject, ClientID, Method, Route, GrantedBy, TraceID, RequestID string
	ProjectID                                                       sql.NullInt64
	Status                                                          int
	OccurredAt                                                      time.Time
}

func auditRows(t *testing.T, admin *sql.DB) []auditRow {
	t.Helper()
	rows, err := admin.Query("SELECT a.subject, a.client_id, a.method, a.route, a.granted_by, a.trace_id, a.request_id, a.project_id, " +
		"COALESCE(o.status, a.status), a.occurred_at FROM access_audit a " +
		"LEFT JOIN access_audit_outcome o ON o.request_id = a.request_id ORDER BY a.id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.Subject, &r.ClientID, &r.Method, &r.Route, &r.GrantedBy, &r.TraceID, &r.RequestID, &r.ProjectID, &r.Status, &r.OccurredAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// traceIDOf is the trace id go-zero sent back in the traceparent header.
func traceIDOf(res servicetest.Answer) string {
	if parts := strings.Split(res.Header.Get("Traceparent"), "-"); len(parts) == 4 {
		return parts[1]
	}
	return ""
}

func TestAccessAudit_OneRowPerAnswerToAVerifiedCaller(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice, siteAarhus)
	dsn, admin, _ := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	aarhus := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, siteAarhus.ID, siteAarhus.Secret, auth.ScopeRead)}}

	// N reads from concurrent clients: N rows, whatever the batching.
	const n = 24
	var wg sync.WaitGroup
	traces := make([]string, n)
	for i := range n {
		wg.Go(func() {
			res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office)
			if res.Status != http.StatusOK {
				t.Errorf("read %d: %d %s", i, res.Status, res.Body)
			}
			traces[i] = traceIDOf(res)
		})
	}
	wg.Wait()
	answers := []struct {
		path   string
		h      http.Header
		status int
	}{
		{"/project/999", office, http.StatusNotFound},   // no such project
		{"/project/2", aarhus, http.StatusNotFound},     // exists, outside the grant
		{"/project/1", aarhus, http.StatusOK},           // granted
		{"/project/abc", office, http.StatusBadRequest}, // not an id
		{"/project/1", http.Header{}, 401},              // no token: no row
		{"/project/1", http.Header{"Authorization": {"Bearer x.y.z"}}, 401},
	}
	for _, a := range answers {
		if res := servicetest.Do(t, http.MethodGet, s.URL+a.path, a.h); res.Status != a.status {
			t.Fatalf("GET %s: %d %s, want %d", a.path, res.Status, res.Body, a.status)
		}
	}

	rows := auditRows(t, admin)
	if len(rows) != n+4 {
		t.Fatalf("%d audit rows, want %d (%d reads, 4 other answers to verified callers, no 401s)", len(rows), n+4, n)
	}
	seen := map[string]bool{}
	for _, r := range rows[:n] {
		if r.Subject != "svc-trial-office" || r.ClientID != "trial-office" || r.ProjectID.Int64 != 1 || r.Status != 200 ||
			r.Method != "GET" || r.GrantedBy != auth.ScopeReadAll || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(r.TraceID) {
			t.Fatalf("read row %+v", r)
		}
		if time.Since(r.OccurredAt) > time.Minute || r.OccurredAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("occurred_at %s is not now (UTC)", r.OccurredAt)
		}
		seen[r.TraceID] = true
	}
	for i, tr := range traces {
		if !seen[tr] {
			t.Fatalf("read %d's trace id %q (traceparent) is not in the audit trail", i, tr)
		}
	}
	tail := rows[n:]
	want := []struct {
		subject string
		project sql.NullInt64
		status  int
		grant   string
	}{
		{"svc-trial-office", sql.NullInt64{Int64: 999, Valid: true}, 404, auth.ScopeReadAll},
		{"site-aarhus", sql.NullInt64{Int64: 2, Valid: true}, 404, ""},
		{"site-aarhus", sql.NullInt64{Int64: 1, Valid: true}, 200, auth.ScopeRead},
		{"svc-trial-office", sql.NullInt64{}, 400, ""},
	}
	for i, w := range want {
		r := tail[i]
		if r.Subject != w.subject || r.ProjectID != w.project || r.Status != w.status || r.GrantedBy != w.grant {
			t.Fatalf("row %d = %+v, want %+v", n+i, r, w)
		}
	}
}

func TestAccessAudit_504IsAudited(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, admin, _ := securedDatabase(t)
	p, err := faultproxy.Start(dbtest.Shared(t).Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	const timeout = 300 * time.Millisecond
	s := servicetest.Start(t, servicetest.Config(t, p.DSN(dsn), servicetest.Issuer(iss.URL), servicetest.Timeout(timeout)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office); res.Status != http.StatusOK {
		t.Fatalf("warm-up: %d", res.Status)
	}
	// Reads answer after twice the deadline; the audit INSERT (a write,
	// after the deadline) goes through the same proxy, so only the reads
	// are slowed: the latency toxic applies to what the server sends.
	if err := p.Latency(2 * timeout); err != nil {
		t.Fatal(err)
	}
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office)
	if res.Status != http.StatusGatewayTimeout {
		t.Fatalf("slow database: %d %s, want 504", res.Status, res.Body)
	}
	// The 504 left only once its status was committed: no waiting here.
	rows := auditRows(t, admin)
	if len(rows) != 2 || rows[1].Status != http.StatusGatewayTimeout || rows[1].RequestID != res.Header.Get("X-Request-Id") {
		t.Fatalf("audit rows %+v, want the 200 and then the 504 of request %s", rows, res.Header.Get("X-Request-Id"))
	}
}

func TestAccessAudit_FailsClosedWhileTheTrailIsUnwritableAndRecoversWithoutARestart(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, admin, dbName := securedDatabase(t)
	s := servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office); res.Status != http.StatusOK {
		t.Fatalf("before: %d", res.Status)
	}
	user, _ := mysql.ParseDSN(dsn)
	account := "'" + user.User + "'@'%'"
	exec := func(q string) {
		t.Helper()
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("REVOKE INSERT ON `" + dbName + "`.`access_audit` FROM " + account)
	for range 3 {
		res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office)
		if res.Status != http.StatusServiceUnavailable || servicetest.ErrorCode(t, res.Body) != "unavailable" {
			t.Fatalf("audit trail unwritable: %d %s, want 503 unavailable", res.Status, res.Body)
		}
		if strings.Contains(res.Body, "CTP-2024-017") || res.Header.Get("ETag") != "" {
			t.Fatalf("the record left without its audit row: %s", res.Body)
		}
	}
	exec("GRANT INSERT ON `" + dbName + "`.`access_audit` TO " + account)
	if !servicetest.Eventually(15*time.Second, func() bool {
		return servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office).Status == http.StatusOK
	}) {
		t.Fatal("no 200 within 15 s of the audit trail becoming writable again (no restart)")
	}
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM access_audit WHERE status = 200").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if ok := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office); ok.Status != 200 {
		t.Fatalf("after recovery: %d", ok.Status)
	}
	var after int
	if err := admin.QueryRow("SELECT COUNT(*) FROM access_audit WHERE status = 200").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != n+1 {
		t.Fatalf("a 200 after recovery added %d rows, want 1", after-n)
	}
}

func TestAccessAudit_TheServiceUserCannotRewriteHistory(t *testing.T) {
	t.Parallel()
	dsn, _, _ := securedDatabase(t)
	db := dbtest.Open(t, dsn)
	for _, q := range []string{
		"INSERT INTO access_audit (request_id, occurred_at, subject, method, status) VALUES ('r1', UTC_TIMESTAMP(6), 's', 'GET', 200)",
		"INSERT INTO access_audit_outcome (request_id, occurred_at, status) VALUES ('r1', UTC_TIMESTAMP(6), 504)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("the service user cannot append to the trail: %s: %v", q, err)
		}
	}
	for _, q := range []string{
		"UPDATE access_audit SET status = 404",
		"DELETE FROM access_audit",
		"SELECT * FROM access_audit",
		"UPDATE access_audit_outcome SET status = 200",
		"DELETE FROM access_audit_outcome",
		"SELECT * FROM access_audit_outcome",
		"UPDATE project SET title = 'x'",
		"INSERT INTO project (code, title, phase, status, sponsor) VALUES ('X', 'x', 'I', 'planned', 's')",
		"DROP TABLE project_report",
	} {
		_, err := db.Exec(q)
		var me *mysql.MySQLError
		if err == nil || !errors.As(err, &me) || (me.Number != 1142 && me.Number != 1143) {
			t.Errorf("%s as the service user: %v, want permission denied (1142)", q, err)
		}
	}
}

// TestAccess_NoTokenTextInTheLogs runs the real binary with authentication
// on and logs at debug level, sends valid, refused and forged tokens, and
// checks that no token — nor any of its three parts — appears in anything
// the process wrote, nor any SQL statement.
func TestAccess_NoTokenTextInTheLogs(t *testing.T) {
	t.Parallel()
	none := oidctest.Client{ID: "no-scope", Secret: "no-scope-secret", Scopes: []string{"openid"}}
	iss := oidctest.Start(t, trialOffice, siteAarhus, none)
	dsn, admin, dbName := securedDatabase(t)
	proc := startProcess(t, dsn, servicetest.Issuer(iss.URL), "Log: {Level: debug}")

	expired := iss.Claims("svc-trial-office", auth.ScopeReadAll)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	wrongAud := iss.Claims("svc-trial-office", auth.ScopeReadAll)
	wrongAud["aud"] = "another-api"
	tokens := map[string]int{
		iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll): http.StatusOK,
		iss.MustToken(t, siteAarhus.ID, siteAarhus.Secret, auth.ScopeRead):      http.StatusOK,
		iss.MustToken(t, none.ID, none.Secret, "openid"):                        http.StatusForbidden,
		iss.Sign(expired):  http.StatusUnauthorized,
		iss.Sign(wrongAud): http.StatusUnauthorized,
		tamper(iss.Sign(iss.Claims("svc-trial-office", auth.ScopeReadAll))): http.StatusUnauthorized,
	}
	for tok, want := range tokens {
		for _, path := range []string{"/project/1", "/project/2", "/project/abc"} {
			res := servicetest.Do(t, http.MethodGet, proc.URL+path, http.Header{"Authorization": {"Bearer " + tok}})
			if path == "/project/1" && res.Status != want {
				t.Fatalf("GET %s: %d %s, want %d", path, res.Status, res.Body, want)
			}
		}
	}
	// 5xx answers too: go-zero's own access log dumps the whole request,
	// Authorization header included, for those.
	user, _ := mysql.ParseDSN(dsn)
	if _, err := admin.Exec("REVOKE INSERT ON `" + dbName + "`.`access_audit` FROM '" + user.User + "'@'%'"); err != nil {
		t.Fatal(err)
	}
	for tok, want := range tokens {
		if want != http.StatusOK {
			continue
		}
		if res := servicetest.Do(t, http.MethodGet, proc.URL+"/project/1", http.Header{"Authorization": {"Bearer " + tok}}); res.Status != http.StatusServiceUnavailable {
			t.Fatalf("audit trail unwritable: %d, want 503", res.Status)
		}
	}
	if !servicetest.Eventually(2*time.Second, func() bool {
		return strings.Contains(proc.Logs(), "[HTTP] 401") && strings.Contains(proc.Logs(), "[HTTP] 503")
	}) {
		t.Fatal("the access log shows no refused request: are the logs captured?")
	}
	logs := proc.Logs()
	for tok := range tokens {
		for _, part := range append(strings.Split(tok, "."), tok) {
			if len(part) >= 16 && strings.Contains(logs, part) {
				t.Fatalf("the logs contain token text %.24q...", part)
			}
		}
	}
	// Nor any SQL statement: go-zero's statement log (on by default) writes
	// each statement with its arguments formatted in - the failed audit
	// INSERTs above would carry subjects, clients and project ids.
	for _, line := range strings.Split(logs, "\n") {
		if l := strings.ToLower(line); strings.Contains(l, "insert into") || strings.Contains(l, "select ") {
			t.Fatalf("a log line carries SQL text:\n%.300s", line)
		}
	}
}

// tamper changes one character of a token's signature.
func tamper(token string) string {
	i := strings.LastIndex(token, ".") + 1
	b := []byte(token)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestAccessAudit_TheAuditorsQueriesReadTheirIndex runs the three queries
// of docs/access.md ("Reading it") on a trail of a few thousand rows and
// checks, with EXPLAIN, that each reads access_audit through its index
// (not the table), and the outcome by its primary key.
func TestAccessAudit_TheAuditorsQueriesReadTheirIndex(t *testing.T) {
	t.Parallel()
	_, admin, _ := securedDatabase(t)
	var values []string
	for i := range 3000 {
		grant := "'project:read:all'"
		if i%10 == 0 {
			grant = "''"
		}
		values = append(values, fmt.Sprintf("(LPAD(HEX(%d), 32, '0'), '2026-11-01' + INTERVAL %d MINUTE, 'subject-%d', 'client', %d, 'GET', '/project/:id', 200, %s, '')",
			i, i, i%50, 1+i%400, grant))
	}
	if _, err := admin.Exec("INSERT INTO access_audit (request_id, occurred_at, subject, client_id, project_id, method, route, status, granted_by, trace_id) VALUES " +
		strings.Join(values, ",")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("INSERT INTO access_audit_outcome (request_id, occurred_at, status) SELECT request_id, occurred_at, 404 FROM access_audit WHERE id % 7 = 0"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"ANALYZE TABLE access_audit", "ANALYZE TABLE access_audit_outcome"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := os.ReadFile(testenv.Path("docs/access.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\\*\\*Reading it\\*\\*.*?```sql\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/access.md has no SQL block under **Reading it**")
	}
	var queries []string
	for _, stmt := range strings.Split(string(m[1]), ";") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			queries = append(queries, strings.Join(lines, " "))
		}
	}
	want := []string{"idx_access_audit_project", "idx_access_audit_subject", "idx_access_audit_grant"}
	if len(queries) != len(want) {
		t.Fatalf("docs/access.md has %d audit queries, want %d:\n%s", len(queries), len(want), strings.Join(queries, "\n"))
	}
	for i, q := range queries {
		rows, err := admin.Query("EXPLAIN " + q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		keys := map[string]string{}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var table, key string
			for j, c := range cols {
				switch c {
				case "table":
					table = vals[j].String
				case "key":
					key = vals[j].String
				}
			}
			keys[table] = key
		}
		rows.Close()
		if keys["a"] != want[i] {
			t.Errorf("query %d reads access_audit by %q, want %s:\n%s\nplan keys %v", i+1, keys["a"], want[i], q, keys)
		}
		if k, joined := keys["o"]; joined && k != "PRIMARY" {
			t.Errorf("query %d reads access_audit_outcome by %q, want PRIMARY", i+1, k)
		}
	}
}

// TestAccessAudit_EverySpellingOfAnIDIsRefusedOrAttributed, through the
// real router and a real database, with the service's DSN asking for
// autocommit=0 (the service forces autocommit: each row is durable once
// written, seen here from another connection): another spelling of an id
// is a 400 whose row names no project; the plain id reads the record and
// its row names it.
func TestAccessAudit_EverySpellingOfAnIDIsRefusedOrAttributed(t *testing.T) {
	t.Parallel()
	iss := oidctest.Start(t, trialOffice)
	dsn, admin, _ := securedDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["autocommit"] = "0"
	s := servicetest.Start(t, servicetest.Config(t, cfg.FormatDSN(), servicetest.Issuer(iss.URL)))
	office := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
	spellings := []string{"/project/+1", "/project/%2B1", "/project/01", "/project/%30%31", "/project/-0"}
	for _, path := range spellings {
		if res := servicetest.Do(t, http.MethodGet, s.URL+path, office); res.Status != http.StatusBadRequest {
			t.Fatalf("GET %s: %d %s, want 400", path, res.Status, res.Body)
		}
	}
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", office)
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "CTP-2024-017") {
		t.Fatalf("GET /project/1: %d", res.Status)
	}
	rows := auditRows(t, admin) // another connection: committed rows only
	if len(rows) != len(spellings)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(spellings)+1)
	}
	for i, r := range rows[:len(spellings)] {
		if r.Status != 400 || r.ProjectID.Valid || r.Route != "/project/:id" {
			t.Fatalf("%s: row %+v, want a 400 naming no project", spellings[i], r)
		}
	}
	if r := rows[len(spellings)]; r.Status != 200 || r.ProjectID.Int64 != 1 || r.RequestID != res.Header.Get("X-Request-Id") {
		t.Fatalf("/project/1: row %+v, want a 200 naming project 1 of request %s", r, res.Header.Get("X-Request-Id"))
	}
}
