package main

import (
	"fmt"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

const (
	fanOutClients = 8
	roundTripRuns = 100 // single reads per query per round-trip measurement
)

var fanOutLatencies = []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond}

// fanOut: the service and its serial twin behind one fault proxy that adds
// a latency to every answer of the database.
func (e *env) fanOut() error {
	proxy, err := faultproxy.Start(e.db.Addr())
	if err != nil {
		return err
	}
	defer proxy.Close()
	dsn := proxy.DSN(e.large.dsn)
	fan, err := bench.StartService(dsn, bench.Variant{Name: "fan-out", Overrides: []string{bench.SheddingOff, bench.CoalesceOff}})
	if err != nil {
		return err
	}
	defer fan.Close()
	ser, err := bench.StartService(dsn, bench.Variant{Name: "serial", Overrides: []string{bench.SheddingOff, bench.CoalesceOff}, Serial: true})
	if err != nil {
		return err
	}
	defer ser.Close()

	load := random(e.large, nil)
	out := &FanOut{Clients: fanOutClients, Command: e.command(fanOutClients, load(0)), SingleCommand: e.command(1, load(0))}
	for _, lat := range fanOutLatencies {
		proxy.Reset()
		if lat > 0 {
			if err := proxy.Latency(lat); err != nil {
				return err
			}
		}
		level := FanOutLevel{Latency: lat}
		var rp, rs, rr []time.Duration
		for range *runs {
			p, s, r, err := e.bare(fan, e.large).RoundTrips(e.ctx, roundTripRuns)
			if err != nil {
				return fmt.Errorf("round trip: %w", err)
			}
			rp, rs, rr = append(rp, p), append(rs, s), append(rr, r)
		}
		level.RTProject, level.RTSites, level.RTReports = loadstat.Median(rp), loadstat.Median(rs), loadstat.Median(rr)
		sums, err := e.compare(fanOutClients, e.serviceArm(fan, e.large), e.serviceArm(ser, e.large))
		if err != nil {
			return err
		}
		level.Fan, level.Serial = sums[0], sums[1]
		logf("  latency %-4s RT %s | fan-out p50 %s p99 %s %.0f/s | serial p50 %s p99 %s %.0f/s", lat, fmtMs(level.RTProject),
			fmtMs(level.Fan.P50), fmtMs(level.Fan.P99), level.Fan.RPS, fmtMs(level.Serial.P50), fmtMs(level.Serial.P99), level.Serial.RPS)
		out.Levels = append(out.Levels, level)
	}

	// The largest latency again with one client, where nothing queues and
	// the difference is the round trips alone.
	single := out.Levels[len(out.Levels)-1]
	sums, err := e.compare(1, e.serviceArm(fan, e.large), e.serviceArm(ser, e.large))
	if err != nil {
		return err
	}
	single.Fan, single.Serial = sums[0], sums[1]
	out.Single = &single
	logf("  latency %-4s 1 client: fan-out p50 %s | serial p50 %s", single.Latency, fmtMs(single.Fan.P50), fmtMs(single.Serial.P50))
	e.rep.FanOut = out
	return nil
}
