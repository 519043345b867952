package main

import (
	"strconv"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

const hotClients = 64

// hotProject: every client asks for the same large project, with
// coalescing (the shipped setting) and without, and, for comparison,
// random ids on the coalescing instance; each with authentication and the
// audit trail off (Auth.Disabled) and on. With the audit on, coalescing
// still shares the reads, but every answer has its own audit row (written
// with group commit), so the six arms show what the audit leaves of
// coalescing's gain. All six alternate.
func (e *env) hotProject() error {
	id, sites, reports, err := e.large.spec.HotProject()
	if err != nil {
		return err
	}
	logf("  project %d (%d sites, %d reports), %d clients", id, sites, reports, hotClients)
	coalescing := bench.Variant{Name: "coalescing on", Overrides: []string{bench.SheddingOff, "Coalesce: true"}}
	plain := bench.Variant{Name: "coalescing off", Overrides: []string{bench.SheddingOff, bench.CoalesceOff}}
	var svcs []*bench.Service
	defer func() {
		for _, s := range svcs {
			s.Close()
		}
	}()
	for _, v := range []bench.Variant{coalescing, plain} {
		s, err := bench.StartService(e.large.dsn, v)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
	}
	for _, v := range []bench.Variant{coalescing, plain} {
		v.Name += ", audit on"
		s, err := e.withAuth(e.large.dsn, v)
		if err != nil {
			return err
		}
		svcs = append(svcs, s)
	}
	lines := svcs[2].Variant.HeaderLines() // every arm sends the token (those with authentication off ignore it)
	hot := func(int) bench.Load {
		return bench.Load{Header: lines, ScriptArgs: []string{"hot", strconv.Itoa(id), strconv.Itoa(reportsParam)}}
	}
	rnd := random(e.large, lines)
	var arms []arm
	for _, s := range []*bench.Service{svcs[0], svcs[1], svcs[2], svcs[3]} {
		arms = append(arms, e.wrkArm(s.URL, s.Svc.Store.PrimaryStats, hot))
	}
	arms = append(arms, e.wrkArm(svcs[0].URL, svcs[0].Svc.Store.PrimaryStats, rnd), e.wrkArm(svcs[2].URL, svcs[2].Svc.Store.PrimaryStats, rnd))
	sums, err := e.compare(hotClients, arms...)
	if err != nil {
		return err
	}
	shown := bench.Load{Header: authHeader, ScriptArgs: hot(0).ScriptArgs}
	out := &HotProject{ID: id, Sites: sites, Reports: reports, Clients: hotClients, Command: e.command(hotClients, shown),
		On: sums[0], Off: sums[1], Random: sums[4], RandomCommand: e.command(hotClients, random(e.large, authHeader)(0)),
		Audit: &HotArms{On: sums[2], Off: sums[3], Random: sums[5]}}
	logf("  audit off: coalescing on %.0f/s p99 %s | off %.0f/s p99 %s | random ids %.0f/s", out.On.RPS, fmtMs(out.On.P99), out.Off.RPS, fmtMs(out.Off.P99), out.Random.RPS)
	logf("  audit on:  coalescing on %.0f/s p99 %s | off %.0f/s p99 %s | random ids %.0f/s; hot ÷ random %.2f ×",
		out.Audit.On.RPS, fmtMs(out.Audit.On.P99), out.Audit.Off.RPS, fmtMs(out.Audit.Off.P99), out.Audit.Random.RPS, out.Audit.On.RPS/out.Audit.Random.RPS)
	e.rep.HotProject = out
	return nil
}
