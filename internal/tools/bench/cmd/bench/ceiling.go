package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// ceiling: the bare client and the HTTP service alternate on one pool, for
// interpolateParams on (the service's default) and off; then the service
// with go-zero's load shedding as shipped.
func (e *env) ceiling() error {
	conns := *satClients
	plain := []string{bench.SheddingOff, bench.CoalesceOff}
	out := &Ceiling{Clients: conns, Command: e.command(conns, random(e.large, nil)(0))}
	runtime.GC()
	debug.FreeOSMemory()
	out.IdleRSS, _ = loadstat.RSS(0)
	for _, arm := range []struct{ name, dsn string }{{"on", e.large.dsn}, {"off", withParam(e.large.dsn, "interpolateParams", "false")}} {
		s, err := bench.StartService(arm.dsn, bench.Variant{Name: "interpolateParams " + arm.name, Overrides: plain})
		if err != nil {
			return err
		}
		a := CeilingArm{Interpolate: arm.name}
		b := e.bare(s, e.large)
		bareArm := func(conns int, d time.Duration, run int) (bench.Result, error) {
			b.Seed = uint64(run + 1)
			return b.Run(e.ctx, conns, d), nil
		}
		httpArm := func(conns int, d time.Duration, run int) (bench.Result, error) {
			rss := loadstat.SampleRSS(0, 250*time.Millisecond)
			defer func() {
				peak, mean := rss.Stop()
				if run != 99 {
					a.PeakRSS, a.MeanRSS = max(a.PeakRSS, peak), max(a.MeanRSS, mean)
				}
			}()
			return e.serviceArm(s, e.large)(conns, d, run)
		}
		sums, err := e.compare(conns, bareArm, httpArm)
		if err != nil {
			s.Close()
			return err
		}
		a.Bare, a.HTTP = sums[0], sums[1]
		var mem runtime.MemStats
		runtime.ReadMemStats(&mem)
		a.HeapInuse = int64(mem.HeapInuse)
		logf("  interpolateParams=%s: bare %.0f/s p99 %s | HTTP %.0f/s p99 %s errors %d | peak RSS %d MiB",
			arm.name, a.Bare.RPS, fmtMs(a.Bare.P99), a.HTTP.RPS, fmtMs(a.HTTP.P99), a.HTTP.Errors, a.PeakRSS>>20)
		if arm.name == "on" {
			if out.Profile, err = e.profile("ceiling", e.serviceArm(s, e.large), conns, "", 0); err != nil {
				s.Close()
				return err
			}
		}
		if err := s.Close(); err != nil {
			return err
		}
		out.Arms = append(out.Arms, a)
	}

	// The same saturated load on the service with go-zero's load shedding
	// as shipped (the other arms have it off).
	s, err := bench.StartService(e.large.dsn, bench.Variant{Name: "shedding as shipped", Overrides: []string{bench.CoalesceOff}})
	if err != nil {
		return err
	}
	defer s.Close()
	sums, err := e.compare(conns, e.serviceArm(s, e.large))
	if err != nil {
		return err
	}
	out.Shedding = sums[0]
	logf("  shedding as shipped (CpuThreshold %d): %.0f/s answered, %d requests refused", e.rep.CpuThreshold, out.Shedding.RPS, out.Shedding.Errors)
	e.rep.Ceiling = out
	return nil
}

// withParam adds key=value to a DSN's query string.
func withParam(dsn, key, value string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + key + "=" + value
}
