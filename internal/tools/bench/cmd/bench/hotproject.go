package main

import (
	"strconv"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

const hotClients = 64

// hotProject: every client asks for the same large project, with
// coalescing (the shipped setting) and without.
func (e *env) hotProject() error {
	id, sites, reports, err := e.large.spec.HotProject()
	if err != nil {
		return err
	}
	logf("  project %d (%d sites, %d reports), %d clients", id, sites, reports, hotClients)
	on, err := bench.StartService(e.large.dsn, bench.Variant{Name: "coalescing on", Overrides: []string{bench.SheddingOff, "Coalesce: true"}})
	if err != nil {
		return err
	}
	defer on.Close()
	off, err := bench.StartService(e.large.dsn, bench.Variant{Name: "coalescing off", Overrides: []string{bench.SheddingOff, bench.CoalesceOff}})
	if err != nil {
		return err
	}
	defer off.Close()
	load := bench.Load{ScriptArgs: []string{"hot", strconv.Itoa(id), strconv.Itoa(reportsParam)}}
	hot := func(int) bench.Load { return load }
	sums, err := e.compare(hotClients, e.wrkArm(on.URL, on.Svc.Store.PrimaryStats, hot), e.wrkArm(off.URL, off.Svc.Store.PrimaryStats, hot))
	if err != nil {
		return err
	}
	out := &HotProject{ID: id, Sites: sites, Reports: reports, Clients: hotClients, Command: e.command(hotClients, load), On: sums[0], Off: sums[1]}
	logf("  coalescing on %.0f/s p99 %s | off %.0f/s p99 %s", out.On.RPS, fmtMs(out.On.P99), out.Off.RPS, fmtMs(out.Off.P99))
	e.rep.HotProject = out
	return nil
}
