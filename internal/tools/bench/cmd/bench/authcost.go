package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// authTokenLifetime outlasts any bench run: one token serves every request.
const authTokenLifetime = 2 * time.Hour

// authCost: over the small data set, the service with authentication and
// the audit trail on — tokens of an in-process OpenID Provider, one token
// on every request — and the same build with both off (Auth.Disabled, as
// every other scenario runs it), alternated: saturated at the ceiling's
// concurrency, and one client in a closed loop.
func (e *env) authCost() error {
	client := oidctest.Client{ID: "bench", Secret: "bench-secret", Scopes: []string{"project:read:all"}, TokenLifetime: authTokenLifetime}
	iss, err := oidctest.New(client)
	if err != nil {
		return err
	}
	defer iss.Stop()
	token, err := iss.Token(e.ctx, client.ID, client.Secret, "project:read:all")
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
	on, err := bench.StartService(e.small.dsn, bench.WithAuth(plain, iss.URL, token))
	if err != nil {
		return err
	}
	defer on.Close()
	if !on.Svc.Verifier.Ready() {
		return fmt.Errorf("the service did not load the issuer's keys from %s", iss.URL)
	}

	cfg, err := mysql.ParseDSN(e.small.dsn)
	if err != nil {
		return err
	}
	root, err := sql.Open("mysql", e.db.RootDSN(cfg.DBName))
	if err != nil {
		return err
	}
	defer root.Close()
	counters := func() ([]int64, error) { return auditCounters(root) }

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

	db, why := containerCPU(e.db.Container().GetContainerID(), nil)
	out.DBCPUSkipped = why
	var offCounts, onCounts, lowOffCounts, lowOnCounts []int64
	arm := func(s *bench.Service, a *AuthArm, counts *[]int64) arm {
		return metered(e.serviceArm(s, e.small), meter{svc: s, dbs: []*bench.ContainerCPU{db}, ports: []int{e.db.Port()}, counters: counters}, &a.Usage, counts)
	}
	sums, err := e.compare(out.Clients, arm(off, &out.Off, &offCounts), arm(on, &out.On, &onCounts))
	if err != nil {
		return err
	}
	out.Off.Summary, out.On.Summary = sums[0], sums[1]
	if sums, err = e.compare(1, arm(off, &out.LowOff, &lowOffCounts), arm(on, &out.LowOn, &lowOnCounts)); err != nil {
		return err
	}
	out.LowOff.Summary, out.LowOn.Summary = sums[0], sums[1]
	for _, x := range []struct {
		a      *AuthArm
		counts []int64
	}{{&out.Off, offCounts}, {&out.On, onCounts}, {&out.LowOff, lowOffCounts}, {&out.LowOn, lowOnCounts}} {
		c := x.counts
		x.a.AuditRows, x.a.Inserts, x.a.Batches, x.a.BatchRows, x.a.FailedRows, x.a.Not2xx, x.a.Gone = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
	}
	load := random(e.small, []string{"Authorization: Bearer $TOKEN"}) // the token is not worth printing
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
