package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// authCost: over the small data set, the service with authentication and
// the audit trail on — tokens of an in-process OpenID Provider, one token
// on every request — and the same build with both off (Auth.Disabled, as
// every other scenario runs it), alternated: saturated at the ceiling's
// concurrency, and one client in a closed loop.
func (e *env) authCost() error {
	_, token, err := e.issuer()
	if err != nil {
		return err
	}
	plain := bench.Variant{Name: "auth off", Overrides: []string{bench.SheddingOff}}
	off, err := bench.StartService(e.small.dsn, plain)
	if err != nil {
		return err
	}
	defer off.Close()
	plain.Name = "auth on"
	on, err := e.withAuth(e.small.dsn, plain)
	if err != nil {
		return err
	}
	defer on.Close()

	am, err := e.auditMeters(e.small)
	if err != nil {
		return err
	}
	defer am.Close()

	out := &AuthCost{Clients: *satClients, TokenBytes: len(token), TokenLifetime: authTokenLifetime}
	if out.WithoutToken, err = status(on.URL + "/project/1"); err != nil {
		return err
	}
	if out.WithoutToken != http.StatusUnauthorized {
		return fmt.Errorf("the service with authentication on answered %d to a request without a token, want 401", out.WithoutToken)
	}
	paths := samplePaths(e.small.spec.Projects)
	if err := bench.SameAnswers(e.ctx, off.URL, on.URL, on.Variant.Header, paths); err != nil {
		return fmt.Errorf("with authentication on the service does not answer as with it off: %w", err)
	}
	out.BodiesCompared = len(paths)

	out.DBCPUSkipped = am.skipped
	// Both arms send the token (the off arm ignores it), so the requests
	// are the same bytes.
	load := random(e.small, on.Variant.HeaderLines())
	arm := func(s *bench.Service, a *AuthArm) arm {
		return am.arm(e.wrkArm(s.URL, s.Svc.Store.PrimaryStats, load), s, a)
	}
	sums, err := e.compare(out.Clients, arm(off, &out.Off), arm(on, &out.On))
	if err != nil {
		return err
	}
	out.Off.Summary, out.On.Summary = sums[0], sums[1]
	if sums, err = e.compare(1, arm(off, &out.LowOff), arm(on, &out.LowOn)); err != nil {
		return err
	}
	out.LowOff.Summary, out.LowOn.Summary = sums[0], sums[1]
	for _, a := range []*AuthArm{&out.Off, &out.On, &out.LowOff, &out.LowOn} {
		a.counted()
	}
	load = random(e.small, authHeader)
	out.Command, out.LowCommand = e.command(out.Clients, load(0)), e.command(1, load(0))
	logf("  %d clients: off %.0f/s (%d errors) | on %.0f/s (%d errors), %.2f ×; %d audit rows for %d answers, %.1f rows per INSERT",
		out.Clients, out.Off.RPS, out.Off.Errors, out.On.RPS, out.On.Errors, out.On.RPS/out.Off.RPS, out.On.AuditRows, out.On.Answered, out.On.RowsPerInsert())
	logf("  1 client: p50 off %s | on %s (+%s)", fmtMs(out.LowOff.P50), fmtMs(out.LowOn.P50), fmtMs(out.LowOn.P50-out.LowOff.P50))

	if out.Profile, err = e.profile("auth-on", e.serviceArm(on, e.small), out.Clients, "", 0); err != nil {
		return err
	}
	e.rep.AuthCost = out
	return nil
}

// auditMeters meter the arms of a scenario with the audit trail on or off
// over one data set: the service's usage (meter), the database container's
// CPU and the audit counters (auditCounters) of the data set's database.
type auditMeters struct {
	e       *env
	root    *sql.DB
	db      *bench.ContainerCPU // nil: not measured (skipped says why)
	skipped string
}

// auditMeters opens a root connection to d's database for its counters.
func (e *env) auditMeters(d database) (*auditMeters, error) {
	cfg, err := mysql.ParseDSN(d.dsn)
	if err != nil {
		return nil, err
	}
	root, err := sql.Open("mysql", e.db.RootDSN(cfg.DBName))
	if err != nil {
		return nil, err
	}
	m := &auditMeters{e: e, root: root}
	m.db, m.skipped = containerCPU(e.db.Container().GetContainerID(), nil)
	return m, nil
}

// arm is a, run on s, with each measured run's usage and audit counts
// added to x (x.counted sets x's counts once the comparison is over).
func (m *auditMeters) arm(a arm, s *bench.Service, x *AuthArm) arm {
	mt := meter{svc: s, dbs: []*bench.ContainerCPU{m.db}, ports: []int{m.e.db.Port()},
		counters: func() ([]int64, error) { return auditCounters(m.root) }}
	return metered(a, mt, &x.Usage, &x.counts)
}

func (m *auditMeters) Close() { m.root.Close() }

// auditCounters are the audit rows in the table, the server's INSERT
// statements so far (Com_insert, global), and of the service's metrics
// (process-wide; only the arm running answers): the
// project_audit_batch_rows histogram's count and sum (INSERTs, rows), the
// audit rows whose INSERT failed, the answers other than 2xx and those of
// them 499 (the client left).
func auditCounters(root *sql.DB) ([]int64, error) {
	var rows, inserts int64
	var name string
	if err := root.QueryRow("SELECT COUNT(*) FROM access_audit").Scan(&rows); err != nil {
		return nil, err
	}
	if err := root.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_insert'").Scan(&name, &inserts); err != nil {
		return nil, err
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return nil, err
	}
	var batches, batchRows, failed, not2xx, gone float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			label := map[string]string{}
			for _, l := range m.GetLabel() {
				label[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "project_audit_batch_rows":
				batches += float64(m.GetHistogram().GetSampleCount())
				batchRows += m.GetHistogram().GetSampleSum()
			case "project_audit_rows_total":
				if label["result"] == "failed" {
					failed += m.GetCounter().GetValue()
				}
			case "http_server_requests_code_total":
				if !strings.HasPrefix(label["code"], "2") {
					not2xx += m.GetCounter().GetValue()
				}
				if label["code"] == "499" {
					gone += m.GetCounter().GetValue()
				}
			}
		}
	}
	return []int64{rows, inserts, int64(batches), int64(batchRows), int64(failed), int64(not2xx), int64(gone)}, nil
}

// status is the status of a GET of url without headers.
func status(url string) (int, error) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
