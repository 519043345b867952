package dataset

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Loaded is what Load put into the database.
type Loaded struct {
	Projects, Institutions, Sites, Reports int64
	SummaryBytes, Summaries                int64 // total length and count of non-NULL summaries
	Bytes                                  int64 // bytes streamed to the server
	Duration                               time.Duration
}

// SummaryAvg is the mean length of a non-NULL summary in bytes.
func (l Loaded) SummaryAvg() int64 {
	if l.Summaries == 0 {
		return 0
	}
	return l.SummaryBytes / l.Summaries
}

// reportStreams is how many LOAD DATA statements load project_report side
// by side (each a contiguous id range).
const reportStreams = 2

// Load creates the data set in the database db points at (schema loaded,
// tables empty; db's user may set globals) with LOAD DATA LOCAL INFILE,
// streaming rows from the generator into the server. Any warning
// (truncation, bad value) fails it. progress, if not nil, gets a line per table.
func (s Spec) Load(ctx context.Context, db *sql.DB, progress func(string)) (Loaded, error) {
	begin := time.Now()
	var st Loaded
	// MySQL 8 ships with local_infile off; MariaDB with it on.
	if _, err := db.ExecContext(ctx, "SET GLOBAL local_infile = 1"); err != nil {
		return st, fmt.Errorf("enable local_infile: %w", err)
	}
	// One session per stream (the big table is loaded over several).
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	session := func(i int) (*sql.Conn, error) {
		for len(conns) <= i {
			c, err := db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
			for _, q := range []string{"SET unique_checks = 0", "SET foreign_key_checks = 0", "SET time_zone = '+00:00'"} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					return nil, fmt.Errorf("%s: %w", q, err)
				}
			}
		}
		return conns[i], nil
	}
	conn, err := session(0)
	if err != nil {
		return st, err
	}

	ps := s.projects()
	keys := s.reportKeys(ps)
	var bytes atomic.Int64
	var summaries [reportStreams]summaryStats
	one := func(g generator) []generator { return []generator{g} }
	reportParts := make([]generator, reportStreams)
	for i := range reportParts {
		from, to := i*len(keys)/reportStreams, (i+1)*len(keys)/reportStreams
		reportParts[i] = func(w *rowWriter) (int64, error) { return s.writeReports(w, keys, from, to, &summaries[i]) }
	}
	tables := []struct {
		name, cols string
		streams    []generator // run concurrently, each over its own session
		count      *int64
	}{
		{"institution", "id,code,name,city,country,created_at,updated_at", one(s.writeInstitutions), &st.Institutions},
		{"project", "id,code,title,phase,status,sponsor,start_date,end_date,created_at,updated_at",
			one(func(w *rowWriter) (int64, error) { return s.writeProjects(w, ps) }), &st.Projects},
		{"project_institution", "id,project_id,institution_id,role,site_status,principal_investigator,enrolled,joined_at",
			one(func(w *rowWriter) (int64, error) { return s.writeSites(w, ps) }), &st.Sites},
		{"project_report", "id,project_id,title,report_type,period_start,period_end,summary,created_at", reportParts, &st.Reports},
	}
	for _, t := range tables {
		t0 := time.Now()
		// Secondary non-unique indexes are built after the rows are in:
		// one sorted build instead of millions of random B-tree inserts.
		// Their definitions are read from the server, so they stay those
		// of sql/schema.sql.
		indexes, err := secondaryIndexes(ctx, conn, t.name)
		if err != nil {
			return st, err
		}
		for _, ix := range indexes {
			if _, err := conn.ExecContext(ctx, "ALTER TABLE `"+t.name+"` DROP INDEX `"+ix.name+"`"); err != nil {
				return st, fmt.Errorf("drop index %s.%s: %w", t.name, ix.name, err)
			}
		}
		type result struct {
			n   int64
			err error
		}
		results := make(chan result, len(t.streams))
		for i, g := range t.streams {
			c, err := session(i)
			if err != nil {
				return st, err
			}
			go func() {
				n, err := loadTable(ctx, c, t.name, t.cols, g, &bytes)
				results <- result{n, err}
			}()
		}
		var n int64
		var firstErr error
		for range t.streams {
			r := <-results
			n += r.n
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
		}
		if firstErr != nil {
			return st, firstErr
		}
		loaded := time.Since(t0)
		if len(indexes) > 0 {
			adds := make([]string, len(indexes))
			for i, ix := range indexes {
				adds[i] = "ADD INDEX `" + ix.name + "` (" + ix.columns + ")"
			}
			if _, err := conn.ExecContext(ctx, "ALTER TABLE `"+t.name+"` "+strings.Join(adds, ", ")); err != nil {
				return st, fmt.Errorf("re-create the indexes of %s: %w", t.name, err)
			}
		}
		*t.count = n
		if progress != nil {
			progress(fmt.Sprintf("%-19s %9d rows in %s (%d stream(s); secondary indexes %s)", t.name, n,
				loaded.Round(100*time.Millisecond), len(t.streams), time.Since(t0.Add(loaded)).Round(100*time.Millisecond)))
		}
	}
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "ANALYZE TABLE `"+t.name+"`"); err != nil {
			return st, fmt.Errorf("analyze %s: %w", t.name, err)
		}
	}
	for _, sm := range summaries {
		st.Summaries += sm.count
		st.SummaryBytes += sm.bytes
	}
	st.Bytes = bytes.Load()
	st.Duration = time.Since(begin)
	return st, nil
}

// generator writes one table's rows (or a part of them) and counts them.
type generator func(w *rowWriter) (int64, error)

type summaryStats struct{ count, bytes int64 }

type index struct{ name, columns string }

// secondaryIndexes lists a table's non-unique secondary indexes with their
// column lists (prefix lengths and DESC kept).
func secondaryIndexes(ctx context.Context, conn *sql.Conn, table string) ([]index, error) {
	rows, err := conn.QueryContext(ctx, "SELECT index_name, column_name, sub_part, collation FROM information_schema.statistics "+
		"WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 1 ORDER BY index_name, seq_in_index", table)
	if err != nil {
		return nil, fmt.Errorf("indexes of %s: %w", table, err)
	}
	defer rows.Close()
	var out []index
	for rows.Next() {
		var name, col string
		var sub sql.NullInt64
		var coll sql.NullString
		if err := rows.Scan(&name, &col, &sub, &coll); err != nil {
			return nil, err
		}
		c := "`" + col + "`"
		if sub.Valid {
			c += "(" + strconv.FormatInt(sub.Int64, 10) + ")"
		}
		if coll.String == "D" {
			c += " DESC"
		}
		if len(out) == 0 || out[len(out)-1].name != name {
			out = append(out, index{name: name, columns: c})
		} else {
			out[len(out)-1].columns += ", " + c
		}
	}
	return out, rows.Err()
}

var readerSeq atomic.Int64

// loadTable streams one table through LOAD DATA LOCAL INFILE 'Reader::...'.
func loadTable(ctx context.Context, conn *sql.Conn, table, cols string, gen generator, total *atomic.Int64) (int64, error) {
	pr, pw := io.Pipe()
	name := fmt.Sprintf("dataset-%s-%d", table, readerSeq.Add(1))
	mysql.RegisterReaderHandler(name, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(name)

	type result struct {
		rows int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		w := &rowWriter{w: bufio.NewWriterSize(countingWriter{pw, total}, 1<<20)}
		n, err := gen(w)
		if err == nil {
			err = w.w.Flush()
		}
		pw.CloseWithError(err) // nil: EOF
		done <- result{n, err}
	}()
	q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE `" + table + "` CHARACTER SET utf8mb4 " +
		"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + cols + ")"
	res, err := conn.ExecContext(ctx, q)
	if err != nil {
		pr.CloseWithError(err) // stop the generator
		<-done
		return 0, fmt.Errorf("load %s: %w", table, err)
	}
	g := <-done
	if g.err != nil {
		return 0, fmt.Errorf("generate %s: %w", table, g.err)
	}
	loaded, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if loaded != g.rows {
		return 0, fmt.Errorf("load %s: %d rows generated, %d loaded", table, g.rows, loaded)
	}
	var warnings int
	if err := conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return 0, err
	}
	if warnings > 0 {
		var level, msg string
		var code int
		_ = conn.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg)
		return 0, fmt.Errorf("load %s: %d warnings, first: %s %d %s", table, warnings, level, code, msg)
	}
	return g.rows, nil
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
