package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/cpulimit"
	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

const (
	// limitedCPUs is the service's quota: small enough that on a shared
	// 2-core machine the service's CPU, not the database, is the bottleneck.
	limitedCPUs    = 0.25
	limitedClients = 256
	// limitedLeadIn opens every run with unmeasured load: go-zero's CPU
	// figure is a moving average (beta 0.95 every 250 ms) that takes 11 s
	// from idle to pass 900 at a full 1000, about 15 s at 950.
	limitedLeadIn = 20 * time.Second
	// pprofOn serves /debug/pprof on the DevServer (loopback, a port of its own).
	pprofOn = "DevServer: {EnablePprof: true}"
)

// cpuLimited: the service binary as a process of its own, in a cgroup
// holding it to limitedCPUs (as `docker run --cpus` would), once as
// shipped and once with shedding off, each driven by far more clients than
// it can serve, over the small data set.
func (e *env) cpuLimited() (err error) {
	out := &CPULimited{CPUs: limitedCPUs, Clients: limitedClients, LeadIn: limitedLeadIn}
	e.rep.CPULimited = out
	dir, err := filepath.Abs(filepath.Join(*artifactsDir, "cpu-limited"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin, err := bench.BuildService(e.ctx, dir)
	if err != nil {
		return err
	}
	var cleanup []func() error
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			err = errors.Join(err, cleanup[i]())
		}
	}()
	var arms []arm
	var procs []*bench.Process
	// pprof is off as shipped (DevServer.EnablePprof); the profile of the
	// overloaded process is read from its DevServer, so both turn it on
	// (it costs nothing until a profile is taken).
	for _, v := range []bench.Variant{{Name: "shipped", Overrides: []string{pprofOn}}, {Name: "shedding-off", Overrides: []string{pprofOn, bench.SheddingOff}}} {
		limit, err := cpulimit.New("projectsvc-bench-"+v.Name, limitedCPUs)
		if err != nil {
			out.Skipped = err.Error()
			logf("  skipped: %v", err)
			return nil
		}
		cleanup = append(cleanup, limit.Remove)
		out.CgroupVersion = limit.Version
		logPath := filepath.Join(dir, v.Name+".log")
		proc, err := bench.StartProcess(bin, dir, e.small.dsn, v, limit, logPath)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() error {
			err := proc.Close()
			if v.Name == "shipped" {
				out.ShedderLine = lastLine(logPath, "dropreq")
			}
			return errors.Join(err, dropAccessLines(logPath))
		})
		arms, procs = append(arms, e.limitedArm(proc, limit, v)), append(procs, proc)
	}
	sums, err := e.compare(limitedClients, arms...)
	if err != nil {
		return err
	}
	if out.Profile, err = e.profile("limited-shipped", arms[0], limitedClients, procs[0].DevURL, limitedLeadIn); err != nil {
		return err
	}
	for i, a := range []*LimitedArm{&out.Shipped, &out.Off} {
		a.Summary = sums[i]
		a.Cores = loadstat.Median(coresOf(sums[i]))
		for _, r := range sums[i].Runs {
			a.PeakRSS = max(a.PeakRSS, r.PeakRSS)
		}
		logf("  %s: %.0f/s accepted (p50 %s, p99 %s), %d × 503 (%d with Retry-After, p99 %s), %.2f cores, peak RSS %d MiB",
			[]string{"shipped", "shedding off"}[i], a.RPS, fmtMs(a.P50), fmtMs(a.P99), a.Unavailable, a.RetryAfter, fmtMs(a.UnavailableP99), a.Cores, a.PeakRSS>>20)
	}
	return nil
}

// limitedArm loads proc with the Go client, which sees the 503s' headers
// and times the accepted requests alone, and adds the CPU the cgroup used
// and the process's peak RSS to each run.
func (e *env) limitedArm(proc *bench.Process, limit *cpulimit.Limit, v bench.Variant) arm {
	c := bench.Client{Projects: e.small.spec.Projects, Reports: reportsParam, Header: v.Header, Timeout: e.wrk.Timeout, LeadIn: limitedLeadIn}
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		rss := loadstat.SampleRSS(proc.Pid, 250*time.Millisecond)
		used := limit.Usage()
		r := c.Run(e.ctx, proc.URL, conns, d, uint64(run+1))
		r.CPU = limit.Usage() - used
		r.PeakRSS, _ = rss.Stop()
		return r, e.ctx.Err()
	}
}

// coresOf is each run's CPU use in cores.
func coresOf(s bench.Summary) []float64 {
	var v []float64
	for _, r := range s.Runs {
		v = append(v, r.CPU.Seconds()/(r.Duration+limitedLeadIn).Seconds())
	}
	return v
}

// lastLine is the "content" of the last JSON log line in path holding needle.
func lastLine(path, needle string) string {
	b, _ := os.ReadFile(path)
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		var l struct{ Content string }
		if strings.Contains(line, needle) && json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Content, needle) {
			last = l.Content
		}
	}
	return last
}
