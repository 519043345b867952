package store

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The MariaDB form is exercised against a real server by the integration
// tests; the MySQL form is checked here by shape (CI has no MySQL 8 image).
func TestLimited_WritesTheRemainingDeadlineInTheFlavoursSyntax(t *testing.T) {
	const q = "select `id` from `project` where `id` = ? limit 1"
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	for _, tc := range []struct {
		flavour Flavour
		want    *regexp.Regexp
	}{
		{FlavourMySQL, regexp.MustCompile("^select /\\*\\+ MAX_EXECUTION_TIME\\((2[0-4][0-9]|250)\\) \\*/ `id` from `project` where `id` = \\? limit 1$")},
		{FlavourMariaDB, regexp.MustCompile("^SET STATEMENT max_statement_time=0\\.(2[0-4][0-9]|250) FOR select `id` from `project`")},
	} {
		c := &readConn{flavour: tc.flavour, serverSideDeadline: true}
		if got := c.limited(ctx, q); !tc.want.MatchString(got) {
			t.Errorf("%s: %q does not match %s", tc.flavour, got, tc.want)
		}
	}
	c := &readConn{flavour: FlavourMySQL, serverSideDeadline: true}
	if got := c.limited(context.Background(), q); got != q {
		t.Errorf("no deadline: %q, want the query unchanged", got)
	}
	if got := c.limited(ctx, "update `project` set `title` = ?"); got != "update `project` set `title` = ?" {
		t.Errorf("not a SELECT: %q, want it unchanged", got)
	}
}

func TestDriverConfig_AddsServiceDefaultsOnlyWhereTheDSNIsSilent(t *testing.T) {
	cfg, err := DriverConfig("u:p@tcp(db:3306)/project")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || cfg.Params["time_zone"] != "'+00:00'" || !cfg.InterpolateParams ||
		cfg.Timeout != 3*time.Second || cfg.ReadTimeout != 30*time.Second || cfg.WriteTimeout != 30*time.Second { // the README's dial 3 s / read 30 s / write 30 s
		t.Fatalf("defaults not applied: %+v", cfg)
	}
	cfg, err = DriverConfig("u:p@tcp(db:3306)/project?interpolateParams=false&timeout=1s&readTimeout=2s")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InterpolateParams || cfg.Timeout != time.Second || cfg.ReadTimeout != 2*time.Second {
		t.Fatalf("the DSN's own settings were overridden: %+v", cfg)
	}
	if _, err := DriverConfig("u:secret-pw@tcp(db"); err == nil || regexp.MustCompile("secret-pw").MatchString(err.Error()) {
		t.Fatalf("bad DSN: err %v (must fail without quoting the password)", err)
	}
}

// TestBreakerAcceptable_OnlySlowOrStrugglingFailuresCount: what the server
// answers at once about a statement (a duplicate key, a privilege refused,
// a missing table) never counts against the breaker every request of the
// server shares; timeouts, lock waits, too many connections and a
// shutdown do, as does a request's deadline.
func TestBreakerAcceptable_OnlySlowOrStrugglingFailuresCount(t *testing.T) {
	for _, tc := range []struct {
		err        error
		acceptable bool
	}{
		{&mysql.MySQLError{Number: 1062}, true},
		{&mysql.MySQLError{Number: 1142}, true},
		{&mysql.MySQLError{Number: 1146}, true},
		{fmt.Errorf("access_audit: insert 3 rows: %w", &mysql.MySQLError{Number: 1406}), true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{&mysql.MySQLError{Number: 3024}, false},
		{&mysql.MySQLError{Number: 1969}, false},
		{&mysql.MySQLError{Number: 1205}, false},
		{&mysql.MySQLError{Number: 1040}, false},
		{&mysql.MySQLError{Number: 1053}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := breakerAcceptable(tc.err); got != tc.acceptable {
			t.Errorf("%v: acceptable %v, want %v", tc.err, got, tc.acceptable)
		}
	}
}
