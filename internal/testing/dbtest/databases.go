// Databases on a server: creating them from SQL files, dropping them, opening pools.

package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// open returns a pool for dsn through go-sql-driver/mysql with its logger
// silenced: polling a starting server makes it print "[mysql] ...
// unexpected EOF" lines that are expected, not errors.
func open(dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.Logger = &mysql.NopLogger{}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

var dbNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// CreateDatabase creates a fresh uniquely named database and loads the given
// SQL files into it in order (paths relative to the repo root, found by
// walking up from the working dir to go.mod; absolute paths as they are),
// returning its name. Each file is sent whole as one multi-statement query
// (plain SQL only: no client commands such as DELIMITER); the first failing
// statement fails the call, and the database is dropped again.
func (s *Server) CreateDatabase(ctx context.Context, files ...string) (string, error) {
	type script struct{ path, sql string }
	scripts := make([]script, 0, len(files))
	for _, f := range files {
		// testenv.Path panics outside the repository; here that is an error.
		if _, err := testenv.Root(); err != nil && !filepath.IsAbs(f) {
			return "", fmt.Errorf("dbtest: %w", err)
		}
		p := testenv.Path(f)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("dbtest: %w", err)
		}
		scripts = append(scripts, script{p, string(b)})
	}

	name := "dbtest_" + randomHex(6)
	admin, err := open(s.RootDSN(""))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return "", fmt.Errorf("dbtest: create database: %w", err)
	}

	load := func() error {
		db, err := open(s.RootDSN(name))
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("dbtest: connect to %s: %w", name, err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SET time_zone = '+00:00'"); err != nil {
			return fmt.Errorf("dbtest: %w", err)
		}
		for _, sc := range scripts {
			if strings.TrimSpace(sc.sql) == "" {
				continue
			}
			if _, err := conn.ExecContext(ctx, sc.sql); err != nil && !isEmptyQuery(err) {
				return fmt.Errorf("dbtest: load %s into %s: %w", sc.path, name, err)
			}
		}
		return nil
	}
	if err := load(); err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.ExecContext(dctx, "DROP DATABASE IF EXISTS `"+name+"`")
		return "", err
	}
	return name, nil
}

// isEmptyQuery: a file holding only comments is "Query was empty" (1065).
func isEmptyQuery(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1065
}

// DropDatabase drops database name (no error if it does not exist).
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if !dbNameRE.MatchString(name) {
		return fmt.Errorf("dbtest: drop database: bad name %q", name)
	}
	admin, err := open(s.RootDSN(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("dbtest: drop database %s: %w", name, err)
	}
	return nil
}

// Open opens a pool to dsn for test setup and checks; it is closed when t ends.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
