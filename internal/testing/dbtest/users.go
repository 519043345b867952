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
	s := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	userDSN, drop, err := s.CreateServiceUser(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.isStopped() {
			drop()
		}
	})
	return userDSN
}

// CreateServiceUser creates a user with sql/grants.sql's privileges on the
// database of dsn and returns dsn as that user, and a func dropping it.
func (s *Server) CreateServiceUser(ctx context.Context, dsn string) (string, func(), error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", nil, err
	}
	grants, err := os.ReadFile(testenv.Path(grantsFile))
	if err != nil {
		return "", nil, err
	}
	user, password := "svc_"+randomHex(5), randomHex(12)
	account := fmt.Sprintf("'%s'@'%%'", user)
	script := strings.NewReplacer("`project`.", "`"+cfg.DBName+"`.", "'projectsvc'@'%'", account).Replace(string(grants))
	if !strings.Contains(script, account) {
		return "", nil, fmt.Errorf("dbtest: %s grants nothing to 'projectsvc'@'%%'", grantsFile)
	}
	admin, err := open(s.RootDSN(""))
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE USER "+account+" IDENTIFIED BY '"+password+"'"); err != nil {
		return "", nil, fmt.Errorf("dbtest: create user: %w", err)
	}
	drop := func() {
		if admin, err := open(s.RootDSN("")); err == nil {
			_, _ = admin.Exec("DROP USER IF EXISTS " + account)
			admin.Close()
		}
	}
	if _, err := admin.ExecContext(ctx, script); err != nil && !isEmptyQuery(err) {
		drop()
		return "", nil, fmt.Errorf("dbtest: apply %s: %w", grantsFile, err)
	}
	cfg.User, cfg.Passwd = user, password
	return cfg.FormatDSN(), drop, nil
}
