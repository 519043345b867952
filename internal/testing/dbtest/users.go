// Database users with exactly the service's privileges.

package dbtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// grantsFile holds the privileges of the service's database user.
const grantsFile = "sql/grants.sql"

// ServiceUser creates a database user on the shared server that has exactly
// the privileges sql/grants.sql gives the service, on the database of dsn
// (a DSN from NewDatabase), and returns dsn as that user. The user is
// dropped in t.Cleanup. Tests run the service through it, so a statement
// needing more than the shipped grants fails the test.
func ServiceUser(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	grants, err := os.ReadFile(testenv.Path(grantsFile))
	if err != nil {
		t.Fatal(err)
	}
	user, password := "svc_"+randomHex(5), randomHex(12)
	account := fmt.Sprintf("'%s'@'%%'", user)
	script := strings.NewReplacer("`project`.", "`"+cfg.DBName+"`.", "'projectsvc'@'%'", account).Replace(string(grants))
	if !strings.Contains(script, account) {
		t.Fatalf("dbtest: %s grants nothing to 'projectsvc'@'%%'", grantsFile)
	}

	s := Shared(t)
	admin, err := open(s.RootDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE USER "+account+" IDENTIFIED BY '"+password+"'"); err != nil {
		t.Fatalf("dbtest: create user: %v", err)
	}
	t.Cleanup(func() {
		if s.isStopped() {
			return
		}
		if admin, err := open(s.RootDSN("")); err == nil {
			_, _ = admin.Exec("DROP USER IF EXISTS " + account)
			admin.Close()
		}
	})
	if _, err := admin.ExecContext(ctx, script); err != nil && !isEmptyQuery(err) {
		t.Fatalf("dbtest: apply %s: %v", grantsFile, err)
	}
	cfg.User, cfg.Passwd = user, password
	return cfg.FormatDSN()
}
