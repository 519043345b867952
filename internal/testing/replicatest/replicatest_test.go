package replicatest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/replicatest"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// quietDB opens a pool on dsn (driver logging off: the test breaks
// connections on purpose), closed when t ends.
func quietDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := dbtest.OpenQuiet(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func addInstitution(t *testing.T, db *sql.DB, code string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO institution (code, name) VALUES (?, ?)", code, "replicatest "+code); err != nil {
		t.Fatalf("insert institution %s: %v", code, err)
	}
}

func hasInstitution(t *testing.T, db *sql.DB, code string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM institution WHERE code = ?", code).Scan(&n); err != nil {
		t.Fatalf("look for institution %s: %v", code, err)
	}
	return n == 1
}

// hangs runs a query with a short deadline and checks it neither answers
// nor fails before the deadline.
func hangs(t *testing.T, db *sql.DB, what string) {
	t.Helper()
	const deadline = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	begin := time.Now()
	var one int
	err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	elapsed := time.Since(begin)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || elapsed < deadline-100*time.Millisecond {
		t.Errorf("%s: SELECT 1 returned after %s with %v, want it to hang until the %s deadline", what, elapsed, err, deadline)
	}
}

func TestCluster(t *testing.T) {
	begin := time.Now()
	c := replicatest.Start(t, 2, "sql/schema.sql", "sql/seed.sql")
	t.Logf("Start(t, 2, schema, seed): %s", time.Since(begin).Round(time.Millisecond))

	primary := quietDB(t, c.PrimaryDSN())
	replicas := []*sql.DB{quietDB(t, c.ReplicaDSN(0)), quietDB(t, c.ReplicaDSN(1))}
	r0, r1 := replicatest.Replica(0), replicatest.Replica(1)

	t.Run("seed on every server", func(t *testing.T) {
		count := func(db *sql.DB) int {
			var n int
			if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM project").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		want := count(primary)
		if want == 0 {
			t.Fatal("no projects on the primary: seed not loaded")
		}
		for i, db := range replicas {
			if got := count(db); got != want {
				t.Errorf("replica %d has %d projects, the primary %d", i, got, want)
			}
		}
	})

	t.Run("write on the primary reaches the replicas", func(t *testing.T) {
		addInstitution(t, primary, "RT-WRITE")
		c.WaitReplicated(t)
		for i, db := range replicas {
			if !hasInstitution(t, db, "RT-WRITE") {
				t.Errorf("replica %d lacks the row after WaitReplicated", i)
			}
		}
	})

	t.Run("replicas are read-only for the service user", func(t *testing.T) {
		svcPrimary, svcReplicas := c.ServiceUserDSNs(t)
		audit := "INSERT INTO access_audit (request_id, occurred_at, subject, method, status) VALUES ('replicatest', UTC_TIMESTAMP(6), 'replicatest', 'GET', 200)"
		if _, err := quietDB(t, svcPrimary).ExecContext(t.Context(), audit); err != nil {
			t.Fatalf("audit insert on the primary: %v", err)
		}
		for i, dsn := range svcReplicas {
			db := quietDB(t, dsn)
			var n int
			if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM project").Scan(&n); err != nil {
				t.Errorf("replica %d: service user cannot read: %v", i, err)
			}
			_, err := db.ExecContext(t.Context(), audit)
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1290 { // ER_OPTION_PREVENTS_STATEMENT (--read-only)
				t.Errorf("replica %d: audit insert as the service user: %v, want error 1290 (read-only)", i, err)
			}
		}
	})

	t.Run("SelectCount shows where reads went", func(t *testing.T) {
		before := []int64{c.SelectCount(t, replicatest.Primary), c.SelectCount(t, r0), c.SelectCount(t, r1)}
		for range 3 {
			hasInstitution(t, replicas[0], "RT-WRITE")
		}
		c.WaitReplicated(t) // SHOW statements only: no SELECT
		after := []int64{c.SelectCount(t, replicatest.Primary), c.SelectCount(t, r0), c.SelectCount(t, r1)}
		if d := []int64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}; d[0] != 0 || d[1] != 3 || d[2] != 0 {
			t.Errorf("Com_select deltas (primary, replica0, replica1) = %v, want [0 3 0]", d)
		}
	})

	t.Run("StopReplication makes a replica lag", func(t *testing.T) {
		c.StopReplication(t, r0)
		addInstitution(t, primary, "RT-LAG")
		c.WaitReplicated(t) // replica1 only: replica0's applier is stopped
		if !hasInstitution(t, replicas[1], "RT-LAG") {
			t.Fatal("replica 1 lacks the row")
		}
		if hasInstitution(t, replicas[0], "RT-LAG") {
			t.Fatal("replica 0 applied the row with its applier stopped")
		}
		c.StartReplication(t, r0)
		c.WaitReplicated(t, r0)
		if !hasInstitution(t, replicas[0], "RT-LAG") {
			t.Fatal("replica 0 lacks the row after StartReplication")
		}
	})

	t.Run("Disconnect makes a replica hang, Reconnect heals it", func(t *testing.T) {
		hasInstitution(t, replicas[1], "RT-WRITE") // an idle connection in the pool
		selects := c.SelectCount(t, r1)
		c.Disconnect(t, r1)
		hangs(t, replicas[1], "open pool")
		hangs(t, quietDB(t, c.ReplicaDSN(1)), "new connection")
		addInstitution(t, primary, "RT-PARTITION")
		c.WaitReplicated(t) // replica0 only
		if got := c.SelectCount(t, r1); got != selects {
			t.Errorf("replica 1 ran %d SELECTs while disconnected, want none to reach it", got-selects)
		}
		time.Sleep(500 * time.Millisecond) // replica0 has had the row for a while
		if hasInstitution(t, quietDB(t, c.AdminDSN(r1)), "RT-PARTITION") {
			t.Error("replica 1 got a row written while it was disconnected")
		}

		c.Reconnect(t, r1)
		begin := time.Now()
		c.WaitReplicated(t, r1)
		t.Logf("replica 1 caught up %s after Reconnect", time.Since(begin).Round(time.Millisecond))
		if !hasInstitution(t, replicas[1], "RT-PARTITION") {
			t.Fatal("replica 1 lacks the row written during the partition")
		}
	})

	t.Run("Kill makes connections fail, Start brings the replica back", func(t *testing.T) {
		c.Kill(t, r0)
		for _, db := range []*sql.DB{replicas[0], quietDB(t, c.ReplicaDSN(0))} {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			begin := time.Now()
			err := db.PingContext(ctx)
			cancel()
			if err == nil || time.Since(begin) > 2*time.Second {
				t.Errorf("ping of a killed replica: %v after %s, want a quick error", err, time.Since(begin))
			}
		}
		addInstitution(t, primary, "RT-KILLED")
		c.WaitReplicated(t) // replica1 only

		begin := time.Now()
		c.Start(t, r0)
		c.WaitReplicated(t)
		t.Logf("replica 0 restarted and caught up in %s", time.Since(begin).Round(time.Millisecond))
		if !hasInstitution(t, replicas[0], "RT-KILLED") {
			t.Fatal("replica 0 lacks the row written while it was down")
		}
	})
}
