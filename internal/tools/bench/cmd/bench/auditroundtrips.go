package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
	"github.com/clinicaldata/projectsvc/model"
)

// auditLatency is what the fault proxy adds to every answer of the
// database in auditRoundTrips: large against the service's own time, so
// that a p50 counts round trips.
const auditLatency = 20 * time.Millisecond

// auditClients are the closed-loop clients of auditRoundTrips.
var auditClients = []int{1, 8}

// auditRoundTrips: over the large data set, the service with
// authentication and the audit trail on and the same build with both off
// (Auth.Disabled), both behind one fault proxy that adds auditLatency to
// every answer of the database — the reads and the audit INSERTs alike —
// alternated at 1 and at 8 clients. The audit writes a record's rows while
// its three reads run, so with the audit on a record should still cost
// one round trip: its p50 is compared with one round trip, measured as
// fanOut does (single reads, one at a time, through the same proxy).
func (e *env) auditRoundTrips() error {
	proxy, err := faultproxy.Start(e.db.Addr())
	if err != nil {
		return err
	}
	defer proxy.Close()
	dsn := proxy.DSN(e.large.dsn)
	v := bench.Variant{Name: "audit off", Overrides: []string{bench.SheddingOff, bench.CoalesceOff}}
	off, err := bench.StartService(dsn, v)
	if err != nil {
		return err
	}
	defer off.Close()
	v.Name = "audit on"
	on, err := e.withAuth(dsn, v)
	if err != nil {
		return err
	}
	defer on.Close()
	am, err := e.auditMeters(e.large)
	if err != nil {
		return err
	}
	defer am.Close()

	out := &AuditRoundTrips{Latency: auditLatency, DBCPUSkipped: am.skipped}
	// Before the latency: both answer alike.
	paths := samplePaths(e.large.spec.Projects)[:12]
	if err := bench.SameAnswers(e.ctx, off.URL, on.URL, on.Variant.Header, paths); err != nil {
		return fmt.Errorf("with the audit on the service does not answer as with it off: %w", err)
	}
	out.BodiesCompared = len(paths)
	if err := proxy.Latency(auditLatency); err != nil {
		return err
	}

	// One round trip: single reads on the service's pool (and, for
	// context, one audit row handed to the trail and committed), one at a
	// time, through the proxy.
	var rp, rs, rr, ri []time.Duration
	for range *runs {
		p, s, r, err := e.bare(on, e.large).RoundTrips(e.ctx, roundTripRuns)
		if err != nil {
			return fmt.Errorf("round trip: %w", err)
		}
		i, err := insertRoundTrip(e.ctx, on, roundTripRuns)
		if err != nil {
			return fmt.Errorf("audit INSERT round trip: %w", err)
		}
		rp, rs, rr, ri = append(rp, p), append(rs, s), append(rr, r), append(ri, i)
	}
	out.RTProject, out.RTSites, out.RTReports, out.RTInsert = loadstat.Median(rp), loadstat.Median(rs), loadstat.Median(rr), loadstat.Median(ri)
	logf("  one round trip: project %s, sites %s, reports %s; one audit INSERT %s",
		fmtMs(out.RTProject), fmtMs(out.RTSites), fmtMs(out.RTReports), fmtMs(out.RTInsert))

	// Both arms send the token (the off arm ignores it).
	load := random(e.large, on.Variant.HeaderLines())
	for _, clients := range auditClients {
		l := AuditLevel{Clients: clients, Command: e.command(clients, random(e.large, authHeader)(0))}
		sums, err := e.compare(clients,
			am.arm(e.wrkArm(on.URL, on.Svc.Store.PrimaryStats, load), on, &l.On),
			am.arm(e.wrkArm(off.URL, off.Svc.Store.PrimaryStats, load), off, &l.Off))
		if err != nil {
			return err
		}
		l.On.Summary, l.Off.Summary = sums[0], sums[1]
		l.On.counted()
		l.Off.counted()
		logf("  %d client(s): audit on p50 %s (%.2f round trips) p99 %s %.0f/s, %.1f rows per INSERT | off p50 %s (%.2f) p99 %s %.0f/s",
			clients, fmtMs(l.On.P50), frac(l.On.P50, out.RTProject), fmtMs(l.On.P99), l.On.RPS, l.On.RowsPerInsert(),
			fmtMs(l.Off.P50), frac(l.Off.P50, out.RTProject), fmtMs(l.Off.P99), l.Off.RPS)
		out.Levels = append(out.Levels, l)
	}
	e.rep.AuditRoundTrips = out
	return nil
}

// insertRoundTrip is the median time of n audit rows handed to s's trail
// one at a time, each until its INSERT committed: what the audit adds to
// an answer that waited for its rows before anything else.
func insertRoundTrip(ctx context.Context, s *bench.Service, n int) (time.Duration, error) {
	trail := s.Svc.Store.AuditTrail()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		row := &model.AccessAudit{RequestId: fmt.Sprintf("bench%027d", i), OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
			Subject: "bench-round-trip", ClientId: "bench", ProjectId: sql.NullInt64{Int64: 1, Valid: true},
			Method: "GET", Route: "/project/:id", Status: 200, GrantedBy: "project:read:all"}
		t0 := time.Now()
		select {
		case err := <-trail.AppendRows([]*model.AccessAudit{row}):
			if err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		lat = append(lat, time.Since(t0))
	}
	return loadstat.Summarize(lat).P50, nil
}
