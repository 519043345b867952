package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// startDatabase starts the database server, loads the data sets the
// scenarios need each into a database of its own, and reads every record
// once. stop removes the container.
func (e *env) startDatabase(large, small bool) (stop func(), err error) {
	logf("starting the database (%s)", dbtest.Image())
	srv, err := dbtest.Start(e.ctx)
	if err != nil {
		return nil, err
	}
	stop = func() {
		tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
		defer tcancel()
		if err := srv.Terminate(tctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		} else {
			logf("database container removed")
		}
	}
	e.db = srv
	e.rep.Machine.DBImage = dbtest.Image()
	if err := e.admin(e.tuneServer); err != nil {
		stop()
		return nil, err
	}
	if large {
		e.large, e.rep.LargeLoad, err = e.loadData(bench.LargeRecords)
	}
	if err == nil && small {
		e.small, e.rep.SmallLoad, err = e.loadData(bench.SmallRecords)
	}
	if err == nil {
		err = e.admin(func(db *sql.DB) error {
			return db.QueryRowContext(e.ctx, "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema LIKE 'dbtest\\_%'").
				Scan(&e.rep.Machine.DataBytes)
		})
	}
	for _, d := range []database{e.large, e.small} {
		if err == nil && d.dsn != "" {
			err = e.warm(d)
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// tuneServer sizes the server for the data: a server sized for its data
// keeps the working set in memory (the image's 128 MiB buffer pool is a
// laptop default), and a redo log sized for a bulk load forces fewer
// checkpoints. Both are resized at runtime (MySQL 8 and MariaDB 10.11 allow
// it; MySQL 8.0.30+ calls the redo log innodb_redo_log_capacity, and a
// server refusing both just loads more slowly).
func (e *env) tuneServer(db *sql.DB) error {
	if err := db.QueryRowContext(e.ctx, "SELECT VERSION()").Scan(&e.rep.Machine.DBVersion); err != nil {
		return err
	}
	if _, err := db.ExecContext(e.ctx, "SET GLOBAL innodb_buffer_pool_size = 2147483648"); err != nil {
		return fmt.Errorf("resize the buffer pool: %w", err)
	}
	if _, err := db.ExecContext(e.ctx, "SET GLOBAL innodb_log_file_size = 1073741824"); err != nil {
		_, _ = db.ExecContext(e.ctx, "SET GLOBAL innodb_redo_log_capacity = 1073741824")
	}
	// The loader's streams into one table take turns on its AUTO-INC lock
	// (a LOAD DATA holds it to its end under innodb_autoinc_lock_mode 1,
	// MariaDB's default), so one stream waits for another's whole LOAD: on
	// a busy machine longer than the default 50 s (Error 1205).
	if _, err := db.ExecContext(e.ctx, "SET GLOBAL innodb_lock_wait_timeout = 600"); err != nil {
		return fmt.Errorf("innodb_lock_wait_timeout: %w", err)
	}
	return db.QueryRowContext(e.ctx, "SELECT @@innodb_buffer_pool_size").Scan(&e.rep.Machine.BufferPool)
}

// loadData creates a database with the schema and loads spec into it.
func (e *env) loadData(spec dataset.Spec) (database, dataset.Loaded, error) {
	name, err := e.db.CreateDatabase(e.ctx, "sql/schema.sql")
	if err != nil {
		return database{}, dataset.Loaded{}, err
	}
	db, err := sql.Open("mysql", e.db.RootDSN(name))
	if err != nil {
		return database{}, dataset.Loaded{}, err
	}
	defer db.Close()
	logf("generating and loading %d projects, %d institutions, %d-%d sites and %d-%d reports per project (seed %d)",
		spec.Projects, spec.Institutions, spec.MinSites, spec.MaxSites, spec.MinReports, spec.MaxReports, spec.Seed)
	st, err := spec.Load(e.ctx, db, func(line string) { logf("  %s", line) })
	if err != nil {
		return database{}, st, err
	}
	logf("loaded %s reports in %s (summaries avg %d bytes)", fmtInt(st.Reports), st.Duration.Round(100*time.Millisecond), st.SummaryAvg())
	return database{spec: spec, dsn: e.db.DSN(name)}, st, nil
}

// admin runs f on a pool of the server's root user.
func (e *env) admin(f func(*sql.DB) error) error {
	db, err := sql.Open("mysql", e.db.RootDSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db)
}

// warm reads every project of d once, so every scenario starts with the
// working set in the buffer pool.
func (e *env) warm(d database) error {
	t0 := time.Now()
	if err := e.readAll(d); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	e.rep.WarmupRequests += int64(d.spec.Projects)
	logf("warm-up: all %d projects read once in %s", d.spec.Projects, time.Since(t0).Round(100*time.Millisecond))
	return nil
}

// readAll reads every project of d once through a service of its own.
func (e *env) readAll(d database) error {
	s, err := bench.StartService(d.dsn, bench.Variant{Name: "warm-up"})
	if err != nil {
		return err
	}
	defer s.Close()
	return e.bare(s, d).ReadAll(e.ctx, 16)
}
