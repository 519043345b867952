package dbtest_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m))
}

// dbName is the database a DSN points at.
func dbName(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.DBName
}

// databaseExists asks the server, as root, whether database name exists.
func databaseExists(t *testing.T, s *dbtest.Server, name string) bool {
	t.Helper()
	var n int
	err := dbtest.Open(t, s.RootDSN("")).QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestImage(t *testing.T) {
	t.Setenv("DBTEST_IMAGE", "")
	if got := dbtest.Image(); got != "mysql:8.4" {
		t.Errorf("Image() = %q, want mysql:8.4", got)
	}
	t.Setenv("DBTEST_IMAGE", "projectsvc-mariadb:10.11")
	if got := dbtest.Image(); got != "projectsvc-mariadb:10.11" {
		t.Errorf("Image() = %q with DBTEST_IMAGE set", got)
	}
}

func TestNewDatabaseHasSchemaTables(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDatabase(t)
	db := dbtest.Open(t, dsn)

	rows, err := db.QueryContext(t.Context(),
		"SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Every table sql/schema.sql creates, and no other.
	schema, err := os.ReadFile(testenv.Path("sql/schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range regexp.MustCompile("(?m)^CREATE TABLE `([a-z_]+)`").FindAllStringSubmatch(string(schema), -1) {
		want = append(want, m[1])
	}
	slices.Sort(want)
	if len(want) < 6 || !slices.Equal(tables, want) {
		t.Errorf("tables = %v, want %v", tables, want)
	}
}

func TestServiceDSNSession(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.NewDatabase(t))

	var tz string
	var now time.Time
	if err := db.QueryRowContext(t.Context(), "SELECT @@session.time_zone, NOW()").Scan(&tz, &now); err != nil {
		t.Fatal(err)
	}
	if tz != "+00:00" {
		t.Errorf("session time_zone = %q, want +00:00", tz)
	}
	if now.Location() != time.UTC {
		t.Errorf("NOW() scanned in %v, want UTC (parseTime=true&loc=UTC)", now.Location())
	}
	if d := time.Since(now); d < -time.Minute || d > time.Minute {
		t.Errorf("NOW() = %v, %v away from the local clock: not UTC?", now, d)
	}
	// The service DSN must not allow several statements in one query.
	if _, err := db.ExecContext(t.Context(), "SELECT 1; SELECT 2"); err == nil {
		t.Error("multi-statement query accepted by the service DSN")
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	dsn1, dsn2 := dbtest.NewDatabase(t), dbtest.NewDatabase(t)
	if dbName(t, dsn1) == dbName(t, dsn2) {
		t.Fatalf("both databases are named %s", dbName(t, dsn1))
	}
	db1, db2 := dbtest.Open(t, dsn1), dbtest.Open(t, dsn2)

	_, err := db1.ExecContext(t.Context(),
		"INSERT INTO project (code, title, phase, status, sponsor) VALUES ('CTP-1', 'one', 'III', 'recruiting', 'ACME')")
	if err != nil {
		t.Fatal(err)
	}
	count := func(db *sql.DB) int {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM project").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(db1); n != 1 {
		t.Errorf("first database: %d projects, want 1", n)
	}
	if n := count(db2); n != 0 {
		t.Errorf("second database: %d projects, want 0 (rows shared between databases)", n)
	}
}

func TestExtraFilesLoadedInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := filepath.Join(dir, "01.sql")
	second := filepath.Join(dir, "02.sql")
	writeFile(t, first, `-- a comment; with a semicolon
INSERT INTO project (code, title, phase, status, sponsor)
VALUES ('CTP-A', 'semi;colon ''quoted''', 'II', 'active', 'S');
INSERT INTO institution (code, name) VALUES ('I-1', 'Site');
`)
	writeFile(t, second, `INSERT INTO project_institution (project_id, institution_id, role)
SELECT p.id, i.id, 'lead' FROM project p, institution i WHERE p.code = 'CTP-A';`)
	comments := filepath.Join(dir, "03.sql")
	writeFile(t, comments, "-- nothing but a comment\n")

	db := dbtest.Open(t, dbtest.NewDatabase(t, first, second, comments))
	var title, role string
	err := db.QueryRowContext(t.Context(), `SELECT p.title, pi.role FROM project p
		JOIN project_institution pi ON pi.project_id = p.id`).Scan(&title, &role)
	if err != nil {
		t.Fatal(err)
	}
	if title != "semi;colon 'quoted'" || role != "lead" {
		t.Errorf("got title %q role %q", title, role)
	}
}

// A failing statement anywhere in a file fails CreateDatabase with the file's
// name, and leaves no database behind.
func TestCreateDatabaseSurfacesErrors(t *testing.T) {
	s := dbtest.Shared(t)
	before := listDatabases(t, s)
	bad := filepath.Join(t.TempDir(), "bad.sql")
	writeFile(t, bad, `INSERT INTO project (code, title, phase, status, sponsor) VALUES ('X', 't', 'I', 's', 'p');
INSERT INTO no_such_table VALUES (1);
INSERT INTO project (code, title, phase, status, sponsor) VALUES ('Y', 't', 'I', 's', 'p');
`)
	name, err := s.CreateDatabase(t.Context(), "sql/schema.sql", bad)
	if err == nil {
		t.Fatalf("CreateDatabase with a broken second statement succeeded (database %s)", name)
	}
	if !strings.Contains(err.Error(), "bad.sql") || !strings.Contains(err.Error(), "no_such_table") {
		t.Errorf("error does not name the file and the problem: %v", err)
	}
	if after := listDatabases(t, s); !slices.Equal(before, after) {
		t.Errorf("databases before %v, after the failed CreateDatabase %v", before, after)
	}

	if _, err := s.CreateDatabase(t.Context(), "sql/no-such-file.sql"); err == nil {
		t.Error("CreateDatabase with a missing file succeeded")
	}
}

func TestDatabaseDroppedAfterCleanup(t *testing.T) {
	s := dbtest.Shared(t)
	var name string
	t.Run("uses a database", func(t *testing.T) {
		name = dbName(t, dbtest.NewDatabase(t))
		if !databaseExists(t, s, name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
	})
	if name == "" {
		t.Fatal("subtest did not create a database")
	}
	if databaseExists(t, s, name) {
		t.Errorf("database %s still exists after the subtest's cleanup", name)
	}
}

// Stop takes the server down (a ping fails), Resume brings it back with its
// data; the test runs alone (not parallel) since the server is shared.
func TestStopResume(t *testing.T) {
	s := dbtest.Shared(t)
	dsn := dbtest.NewDatabase(t)
	name := dbName(t, dsn)
	db := dbtest.Open(t, dsn)
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	portBefore := s.Port()

	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	err := db.PingContext(ctx)
	cancel()
	if err == nil {
		t.Fatal("ping succeeded with the server stopped")
	}
	t.Logf("ping while stopped: %v", err)

	start := time.Now()
	if err := s.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed in %v; port %d -> %d", time.Since(start).Round(time.Millisecond), portBefore, s.Port())

	fresh := dbtest.Open(t, s.DSN(name))
	if err := fresh.PingContext(t.Context()); err != nil {
		t.Fatalf("ping after Resume: %v", err)
	}
	if !databaseExists(t, s, name) {
		t.Errorf("database %s lost across Stop/Resume", name)
	}
	if s.Port() == portBefore {
		// The same DSN works again: a service's pool recovers by itself.
		if err := db.PingContext(t.Context()); err != nil {
			t.Errorf("old pool does not recover after Resume: %v", err)
		}
	}
}

func listDatabases(t *testing.T, s *dbtest.Server) []string {
	t.Helper()
	rows, err := dbtest.Open(t, s.RootDSN("")).QueryContext(t.Context(),
		"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'dbtest\\_%' ORDER BY schema_name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
