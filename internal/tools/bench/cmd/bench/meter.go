package main

import (
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// meter reads what a run of an arm cost: the requests its in-process
// service answered, this process's CPU time (the service's: the load comes
// from wrk, another process), the database containers' CPU time and that
// of the docker-proxy processes relaying their published ports, the
// machine's busy time, and server-side counters of the scenario's.
type meter struct {
	svc      *bench.Service
	dbs      []*bench.ContainerCPU // nil entries are not measured
	ports    []int                 // the databases' published ports (their docker-proxy relays)
	counters func() ([]int64, error)
}

type reading struct {
	at             time.Time
	answered       int64
	cpu            time.Duration
	db             []time.Duration
	counts         []int64
	busy, allTicks float64 // the machine's (cpuTimes)
	proxy          time.Duration
}

// read takes a reading; the counters (SQL queries, which cost the
// database a COUNT(*) of the audit table) are read before the rest when
// first, after it otherwise, so that they stay outside the interval
// metered between a first and a second reading.
func (m meter) read(first bool) (reading, error) {
	var r reading
	if first && m.counters != nil {
		var err error
		if r.counts, err = m.counters(); err != nil {
			return r, err
		}
	}
	r.at, r.answered, r.cpu = time.Now(), m.svc.Answered(), bench.ProcessCPU()
	r.busy, r.allTicks = cpuTimes()
	for _, p := range m.ports {
		r.proxy += bench.ProxyCPU(p)
	}
	for _, c := range m.dbs {
		var d time.Duration
		if c != nil {
			d = c.Used()
		}
		r.db = append(r.db, d)
	}
	if first || m.counters == nil {
		return r, nil
	}
	var err error
	r.counts, err = m.counters()
	return r, err
}

// metered is a with each measured run's usage added to u and its
// counters' deltas to counts (the warm-up, run 99, and the profile's, run
// 50, are not added). Each run waits for the service's last answers
// before the second reading.
func metered(a arm, m meter, u *Usage, counts *[]int64) arm {
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		before, err := m.read(true)
		if err != nil {
			return bench.Result{}, err
		}
		r, err := a(conns, d, run)
		if err != nil {
			return r, err
		}
		m.svc.Settle()
		after, err := m.read(false)
		if err != nil || run >= 50 {
			return r, err
		}
		u.Answered += after.answered - before.answered
		u.Wall += after.at.Sub(before.at)
		u.ServiceCPU += after.cpu - before.cpu
		u.LoadCPU += r.LoadCPU
		u.ProxyCPU += after.proxy - before.proxy
		u.MachineBusy, u.MachineTicks = u.MachineBusy+after.busy-before.busy, u.MachineTicks+after.allTicks-before.allTicks
		for i := range after.db {
			if len(u.DBCPU) <= i {
				u.DBCPU = append(u.DBCPU, 0)
			}
			u.DBCPU[i] += after.db[i] - before.db[i]
		}
		for i := range after.counts {
			if len(*counts) <= i {
				*counts = append(*counts, 0)
			}
			(*counts)[i] += after.counts[i] - before.counts[i]
		}
		return r, nil
	}
}

// containerCPU is the CPU meter of a database container, or nil and why
// it cannot be read.
func containerCPU(id string, err error) (*bench.ContainerCPU, string) {
	if err == nil {
		var c *bench.ContainerCPU
		if c, err = bench.NewContainerCPU(id); err == nil {
			return c, ""
		}
	}
	logf("  database CPU not measured: %v", err)
	return nil, err.Error()
}
