package main

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// reportsParam is the ?reports= of every request (the API's default).
const reportsParam = 10

// env is what every scenario uses.
type env struct {
	ctx     context.Context
	wrk     bench.Wrk
	timeout time.Duration // the shipped request timeout
	rep     *Report
	db      *dbtest.Server
	large   database // LargeRecords
	small   database // SmallRecords; empty unless a scenario needs it
}

// database is one loaded data set.
type database struct {
	spec dataset.Spec
	dsn  string // the service's DSN, straight to the database
}

// arm is one side of a comparison: how one run of it is loaded (run
// numbers the measured runs from 0; the warm-up is run 99).
type arm func(conns int, d time.Duration, run int) (bench.Result, error)

// compare warms every arm up (unmeasured), then runs the arms alternately,
// -runs times each, and summarises each arm's runs.
func (e *env) compare(conns int, arms ...arm) ([]bench.Summary, error) {
	for _, a := range arms {
		if _, err := a(conns, *warmup, 99); err != nil {
			return nil, err
		}
	}
	results := make([][]bench.Result, len(arms))
	for i := range *runs {
		for j, a := range arms {
			r, err := a(conns, *duration, i)
			if err != nil {
				return nil, err
			}
			results[j] = append(results[j], r)
		}
	}
	out := make([]bench.Summary, len(arms))
	for j := range arms {
		out[j] = bench.Summarize(results[j])
	}
	return out, nil
}

// random is project.lua's load of uniformly random ids of d; run selects
// the stream (all arms of a comparison get the same one).
func random(d database, header []string) func(run int) bench.Load {
	return func(run int) bench.Load {
		return bench.Load{Header: header, ScriptArgs: []string{"random", strconv.Itoa(d.spec.Projects), strconv.Itoa(reportsParam), strconv.Itoa(run + 1)}}
	}
}

// wrkArm loads url with wrk; pool, if not nil, gives the statistics of the
// pool whose waits the run adds.
func (e *env) wrkArm(url string, pool func() sql.DBStats, load func(run int) bench.Load) arm {
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		var before sql.DBStats
		if pool != nil {
			before = pool()
		}
		r, err := e.wrk.Run(e.ctx, url, conns, d, load(run))
		if pool != nil {
			after := pool()
			r.WaitCount = after.WaitCount - before.WaitCount
			r.WaitDuration = after.WaitDuration - before.WaitDuration
			r.MaxLifetimeClosed = after.MaxLifetimeClosed - before.MaxLifetimeClosed
		}
		return r, err
	}
}

// serviceArm loads s with random ids of d, sending the variant's headers.
func (e *env) serviceArm(s *bench.Service, d database) arm {
	return e.wrkArm(s.URL, s.Svc.Store.PrimaryStats, random(d, s.Variant.HeaderLines()))
}

// bare is the bare client on s's pool over d.
func (e *env) bare(s *bench.Service, d database) bench.Bare {
	return bench.Bare{Svc: s.Svc, Projects: d.spec.Projects, Reports: reportsParam, Timeout: e.timeout, Seed: d.spec.Seed}
}

// command is the wrk command line of a comparison, as the report shows it.
func (e *env) command(conns int, load bench.Load) string {
	return e.wrk.Command(conns, *duration, load)
}
