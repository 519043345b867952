package main

import "github.com/clinicaldata/projectsvc/internal/tools/bench"

var poolClients = []int{16, 64, 256}

// poolDefaults: two instances of the service as shipped, the shipped pool
// and go-zero's built-in one, both up for the whole scenario (so go-zero's
// 1-minute lifetime recycles connections during it, as in production).
func (e *env) poolDefaults() error {
	def, err := bench.StartService(e.large.dsn, bench.Variant{Name: "pool defaults", Overrides: []string{bench.SheddingOff}})
	if err != nil {
		return err
	}
	defer def.Close()
	gz, err := bench.StartService(e.large.dsn, bench.Variant{Name: "go-zero pool", Overrides: []string{bench.SheddingOff, bench.GoZeroPool.Override()}})
	if err != nil {
		return err
	}
	defer gz.Close()
	out := &PoolDefaults{}
	for _, c := range poolClients {
		out.Commands = append(out.Commands, e.command(c, random(e.large, nil)(0)))
		sums, err := e.compare(c, e.serviceArm(def, e.large), e.serviceArm(gz, e.large))
		if err != nil {
			return err
		}
		l := PoolLevel{Clients: c, Defaults: sums[0], GoZero: sums[1]}
		logf("  %3d clients: defaults %.0f/s p99 %s waits %d | go-zero pool %.0f/s p99 %s waits %d", c,
			l.Defaults.RPS, fmtMs(l.Defaults.P99), l.Defaults.WaitCount, l.GoZero.RPS, fmtMs(l.GoZero.P99), l.GoZero.WaitCount)
		out.Levels = append(out.Levels, l)
	}
	e.rep.PoolDefaults = out
	return nil
}
