// Package dataset generates the clinical-trial data the benchmark and the
// soak test run against: projects, institutions, the sites linking them and
// the projects' reports, realistic in shape and reproducible from a seed,
// streamed into the database with LOAD DATA LOCAL INFILE (Spec.Load).
package dataset

import (
	"errors"
	"math/rand/v2"
	"time"
)

// Spec describes a data set. Everything is derived from Seed, so the same
// Spec always produces byte-identical tables.
type Spec struct {
	Seed                   uint64
	Projects, Institutions int
	MinSites, MaxSites     int // per project, inclusive
	MinReports, MaxReports int // per project, inclusive
	SummaryNullPercent     int // share of reports without a summary
	// SharedNamePercent is the share of institutions registered under the
	// name (and city) of an earlier one, so that the id tie-break of the
	// site order (name, then id) decides.
	SharedNamePercent int
	// ReportIDsByProject numbers reports project by project; otherwise ids
	// follow created_at over all projects, as AUTO_INCREMENT assigns them.
	// Either way created_at values are distinct; numbered by project, a
	// project's newest-first order is not its id order.
	ReportIDsByProject bool
}

const (
	datetime = "2006-01-02 15:04:05"
	date     = "2006-01-02"
)

var (
	// Projects were registered between these instants; reports run to dataEnd.
	projectsFrom = time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)
	projectsTo   = time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
	dataEnd      = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
)

// project is the part of a generated project the other tables depend on.
type project struct {
	created  time.Time
	start    time.Time // first site / first report
	sites    int
	reports  int
	spanDays int // reports are spread over [start, start+spanDays]
}

// rng returns the random stream of one generated item: the same (seed,
// stream, key) always yields the same numbers, in any load order.
func (s Spec) rng(stream, key uint64) *rand.Rand {
	return rand.New(rand.NewPCG(s.Seed^(stream*0x9e3779b97f4a7c15), key))
}

func (s Spec) projects() []project {
	r := s.rng(1, 0)
	ps := make([]project, s.Projects+1) // 1-based: ps[id]
	span := projectsTo.Sub(projectsFrom)
	for id := 1; id <= s.Projects; id++ {
		created := projectsFrom.Add(time.Duration(r.Int64N(int64(span/time.Second))) * time.Second)
		start := created.Add(time.Duration(30+r.IntN(150)) * 24 * time.Hour)
		spanDays := 365 * (2 + r.IntN(11)) // 2..12 years of reporting
		if end := start.AddDate(0, 0, spanDays); end.After(dataEnd) {
			spanDays = int(dataEnd.Sub(start).Hours() / 24)
		}
		ps[id] = project{
			created:  created,
			start:    start,
			sites:    s.MinSites + r.IntN(s.MaxSites-s.MinSites+1),
			reports:  s.MinReports + r.IntN(s.MaxReports-s.MinReports+1),
			spanDays: spanDays,
		}
	}
	return ps
}

// ErrEmpty is returned by HotProject when the data set has no projects.
var ErrEmpty = errors.New("dataset: no projects")

// HotProject is the project every client asks for in a hot-project load:
// the one with the most sites among the first 100 ids (a large, popular
// trial), with its site and report counts.
func (s Spec) HotProject() (id, sites, reports int, err error) {
	if s.Projects < 1 {
		return 0, 0, 0, ErrEmpty
	}
	ps := s.projects()
	id = 1
	for i := 1; i <= min(100, s.Projects); i++ {
		if ps[i].sites > ps[id].sites {
			id = i
		}
	}
	return id, ps[id].sites, ps[id].reports, nil
}
