package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clinicaldata/projectsvc/internal/testing/redistest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// The rate limits' scenarios: what counting every request in Redis costs
// at saturation (limiterCost), and whether a client flooding the service
// leaves another's latency alone (floodIsolation).

// limiterNeverTrips is a default quota no bench run can use up: a billion
// requests a second (RateLimit-Policy: "default";q=1000000000;w=1). Every
// request is still counted in Redis and answered with the RateLimit headers.
const limiterNeverTrips = "RateLimit: {Rate: 1000000000, Window: 1s, Burst: 1000000000}"

// redisOn is the override that turns rate limiting on, counting in the
// Redis at addr.
func redisOn(addr string) string {
	return bench.Override(map[string]any{"Redis": map[string]any{"Addr": addr}})
}

// limiterCost: over the small data set, the service with rate limiting on
// — every request counted in Redis against a quota that never trips — and
// the same build with it off (no Redis.Addr), both with authentication and
// the audit trail on and the same token on every request, alternated:
// saturated at the ceiling's concurrency, and one client in a closed loop.
func (e *env) limiterCost() error {
	addr, err := e.redisAddr()
	if err != nil {
		e.rep.LimiterCost = &LimiterCost{Skipped: err.Error()}
		logf("  skipped: %v", err)
		return nil
	}
	v := bench.Variant{Name: "limiting off", Overrides: []string{bench.SheddingOff}}
	off, err := e.withAuth(e.small.dsn, v)
	if err != nil {
		return err
	}
	defer off.Close()
	v = bench.Variant{Name: "limiting on", Overrides: []string{bench.SheddingOff, redisOn(addr), limiterNeverTrips}}
	on, err := e.withAuth(e.small.dsn, v)
	if err != nil {
		return err
	}
	defer on.Close()
	if on.Svc.Limiter == nil || off.Svc.Limiter != nil {
		return errors.New("the limiting-on instance has no limiter, or the limiting-off one has one")
	}

	out := &LimiterCost{Clients: *satClients, Timeout: on.Svc.Config.RateLimit.Timeout, Redis: e.redisVersion()}
	if out.Policy, err = policyOf(e.ctx, on.URL+"/project/1", on.Variant.Header); err != nil {
		return err
	}
	if out.Policy == "" {
		return errors.New("the limiting-on instance answered without RateLimit-Policy")
	}
	if p, err := policyOf(e.ctx, off.URL+"/project/1", off.Variant.Header); err != nil || p != "" {
		return fmt.Errorf("the limiting-off instance answered RateLimit-Policy %q (%v), want none", p, err)
	}
	paths := samplePaths(e.small.spec.Projects)
	if err := bench.SameAnswers(e.ctx, off.URL, on.URL, on.Variant.Header, paths); err != nil {
		return fmt.Errorf("with rate limiting on the service does not answer as with it off: %w", err)
	}
	out.BodiesCompared = len(paths)

	rm := e.redisMeters()
	out.DBCPUSkipped, out.RedisCPUSkipped = rm.dbSkipped, rm.redisSkipped
	calls, usec, _ := e.redisScripts()
	defer func() {
		c, u, p := e.redisScripts()
		out.RedisCalls, out.RedisUsec, out.RedisP999 = c-calls, u-usec, p
	}()
	load := random(e.small, on.Variant.HeaderLines())
	arm := func(s *bench.Service, a *LimiterArm) arm {
		return metered(e.wrkArm(s.URL, s.Svc.Store.PrimaryStats, load), rm.meter(s, limiterCounters), &a.Usage, &a.counts)
	}
	sums, err := e.compare(out.Clients, arm(off, &out.Off), arm(on, &out.On))
	if err != nil {
		return err
	}
	out.Off.Summary, out.On.Summary = sums[0], sums[1]
	if sums, err = e.compare(1, arm(off, &out.LowOff), arm(on, &out.LowOn)); err != nil {
		return err
	}
	out.LowOff.Summary, out.LowOn.Summary = sums[0], sums[1]
	for _, a := range []*LimiterArm{&out.Off, &out.On, &out.LowOff, &out.LowOn} {
		a.counted()
	}
	load = random(e.small, authHeader)
	out.Command, out.LowCommand = e.command(out.Clients, load(0)), e.command(1, load(0))
	logf("  %d clients: off %.0f/s (%d errors) | on %.0f/s (%d errors), %.2f ×; on: %d decisions on Redis, %d local, %d refused, for %d answers",
		out.Clients, out.Off.RPS, out.Off.Errors, out.On.RPS, out.On.Errors, out.On.RPS/out.Off.RPS, out.On.Shared, out.On.Local, out.On.Limited, out.On.Answered)
	logf("  1 client: p50 off %s | on %s (%+.3f ms)", fmtMs(out.LowOff.P50), fmtMs(out.LowOn.P50), msf(out.LowOn.P50-out.LowOff.P50))
	if out.Profile, err = e.profile("limiter-on", e.serviceArm(on, e.small), out.Clients, "", 0); err != nil {
		return err
	}
	e.rep.LimiterCost = out
	return nil
}

// redisMeters meter the arms of the rate-limit scenarios: the database's
// and Redis' containers' CPU and their docker-proxy relays.
type redisMeters struct {
	db, redis               *bench.ContainerCPU // nil: not measured
	dbSkipped, redisSkipped string
	ports                   []int
}

func (e *env) redisMeters() redisMeters {
	var m redisMeters
	m.db, m.dbSkipped = containerCPU(e.db.Container().GetContainerID(), nil)
	var err error
	if m.redis, err = bench.NewContainerCPU(e.redis.Container().GetContainerID()); err != nil {
		m.redisSkipped = err.Error()
		logf("  Redis CPU not measured: %v", err)
	}
	m.ports = []int{e.db.Port()}
	if _, p, err := net.SplitHostPort(e.redis.Addr()); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			m.ports = append(m.ports, n)
		}
	}
	return m
}

// meter is the meter of the in-process service s: the database's CPU is
// Usage.DBCPU[0], Redis' DBCPU[1].
func (m redisMeters) meter(s *bench.Service, counters func() ([]int64, error)) meter {
	return meter{svc: s, dbs: []*bench.ContainerCPU{m.db, m.redis}, ports: m.ports, counters: counters}
}

// cpu is the database's and Redis' CPU time so far.
func (m redisMeters) cpu() (db, rd time.Duration) {
	if m.db != nil {
		db = m.db.Used()
	}
	if m.redis != nil {
		rd = m.redis.Used()
	}
	return db, rd
}

// redisScripts are the script calls Redis has run so far and the time it
// spent running them (INFO commandstats: EVALSHA and EVAL), its own view
// of what a decision costs it, without the network.
// p999 is the 99.9th percentile of EVALSHA's run time since Redis started
// (INFO latencystats), 0 if Redis does not track it.
func (e *env) redisScripts() (calls, usec int64, p999 time.Duration) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	c, err := redis.DialContext(ctx, "tcp", e.redis.Addr())
	if err != nil {
		return 0, 0, 0
	}
	defer c.Close()
	info, err := redis.String(c.Do("INFO", "commandstats"))
	if err != nil {
		return 0, 0, 0
	}
	latency, _ := redis.String(c.Do("INFO", "latencystats"))
	for _, line := range strings.Split(info+"\n"+latency, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case name == "latency_percentiles_usec_evalsha" && k == "p99.9":
				us, _ := strconv.ParseFloat(v, 64)
				p999 = time.Duration(us * float64(time.Microsecond))
			case name != "cmdstat_evalsha" && name != "cmdstat_eval":
			case k == "calls":
				n, _ := strconv.ParseInt(v, 10, 64)
				calls += n
			case k == "usec":
				n, _ := strconv.ParseInt(v, 10, 64)
				usec += n
			}
		}
	}
	return calls, usec, p999
}

// redisVersion is the Redis image and the server's version, as the report
// names them.
func (e *env) redisVersion() string {
	name := redistest.Image()
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	c, err := redis.DialContext(ctx, "tcp", e.redis.Addr())
	if err != nil {
		return name
	}
	defer c.Close()
	info, err := redis.String(c.Do("INFO", "server"))
	if err != nil {
		return name
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return name + ", Redis " + v
		}
	}
	return name
}

// policyOf is the RateLimit-Policy of the answer to a GET of url.
func policyOf(ctx context.Context, url string, header map[string]string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	return res.Header.Get("RateLimit-Policy"), nil
}

// sample is one sample of a Prometheus metric.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// samples is a set of a process's metric samples.
type samples []sample

// sum is the sum of the samples of name whose labels include every
// name=value pair of labels.
func (ss samples) sum(name string, labels ...string) int64 {
	var v float64
	for _, s := range ss {
		if s.name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && s.labels[labels[i]] == labels[i+1]
		}
		if match {
			v += s.value
		}
	}
	return int64(v)
}

// gathered are this process's metric samples (its in-process services').
func gathered() (samples, error) {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return nil, err
	}
	var out samples
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := sample{name: mf.GetName(), labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.value = m.GetGauge().GetValue()
			default:
				continue
			}
			out = append(out, s)
		}
	}
	return out, nil
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// scraped are the metric samples a service process's DevServer serves
// (/metrics, Prometheus' text format).
func scraped(ctx context.Context, devURL string) (samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, devURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %d", devURL, res.StatusCode)
	}
	return parseMetrics(bufio.NewScanner(res.Body))
}

// parseMetrics reads the samples of Prometheus' text format.
func parseMetrics(sc *bufio.Scanner) (samples, error) {
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out samples
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			s.name, rest = line[:i], line[j+1:]
			for _, m := range labelRE.FindAllStringSubmatch(line[i+1:j], -1) {
				s.labels[m[1]] = m[2]
			}
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		s.value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// The rate limiter's metrics (internal/ratelimit/metrics.go).
const (
	metricDecisions   = "project_rate_decisions_total"
	metricLimited     = "project_rate_limited_total"
	metricTransitions = "project_rate_transitions_total"
)

// rateCounts are the rate limiter's counters in ss: decisions taken on
// Redis and locally, refusals (429), switches to local limiting.
func rateCounts(ss samples) []int64 {
	return []int64{ss.sum(metricDecisions, "where", "shared"), ss.sum(metricDecisions, "where", "local"),
		ss.sum(metricDecisions, "result", "limited"), ss.sum(metricTransitions, "to", "local")}
}

// limiterCounters are rateCounts of this process (its in-process services).
func limiterCounters() ([]int64, error) {
	ss, err := gathered()
	if err != nil {
		return nil, err
	}
	return rateCounts(ss), nil
}

const (
	// calmRate is the calm client's pace, requests per second: half the
	// sustained rate of its quota, the default (3000 a minute, enforced as
	// 100 per 2 s): it never comes near it.
	calmRate = 25.0
	// floodLeadIn: the flood runs this long before the calm client's
	// measured run starts, and floodTail after it ends.
	floodLeadIn = time.Second
	floodTail   = time.Second
	// floodSettle: after a flood the service finishes what the flood left
	// in flight (and its audit rows) before the next arm.
	floodSettle = time.Second
)

// floodQuota is the flooding client's own quota (RateLimit.Clients): 6000
// a minute with bursts of 100, enforced as 100 a second.
var floodQuota = bench.Override(map[string]any{"RateLimit": map[string]any{"Clients": map[string]any{
	floodClient.ID: map[string]any{"Rate": 6000, "Window": "1m", "Burst": 100}}}})

// floodIsolation: two service processes (the binary, as in cpuLimited,
// without a CPU limit) over the small data set, authentication and the
// audit trail on: one limiting (Redis, a modest quota of its own for the
// flooding client, the default for the calm one), one not (no Redis.Addr;
// the flood reaches the database). The calm client sends calmRate requests
// a second on one connection, timing them; on each process it runs alone,
// and again while the flooding client sends as fast as it can over the
// ceiling's concurrency (wrk). The four arms alternate.
func (e *env) floodIsolation() (err error) {
	addr, err := e.redisAddr()
	if err != nil {
		e.rep.FloodIsolation = &FloodIsolation{Skipped: err.Error()}
		logf("  skipped: %v", err)
		return nil
	}
	iss, calmToken, err := e.issuer()
	if err != nil {
		return err
	}
	floodToken, err := e.floodToken()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(filepath.Join(*artifactsDir, "flood-isolation"))
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
	// pprof is off as shipped; the profile of the flooded process is read
	// from its DevServer (it costs nothing until a profile is taken).
	variants := []bench.Variant{
		{Name: "limiting-on", Overrides: []string{pprofOn, bench.SheddingOff, floodQuota, redisOn(addr)}},
		{Name: "limiting-off", Overrides: []string{pprofOn, bench.SheddingOff, floodQuota}},
	}
	var procs []*bench.Process
	for _, v := range variants {
		v = bench.WithAuth(v, iss.URL, calmToken)
		logPath := filepath.Join(dir, v.Name+".log")
		proc, err := bench.StartProcess(bin, dir, e.small.dsn, v, nil, logPath)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() error { return errors.Join(proc.Close(), dropAccessLines(logPath)) })
		if err := ready(e.ctx, proc.URL); err != nil {
			return fmt.Errorf("%s: %w (log: %s)", v.Name, err, logPath)
		}
		procs = append(procs, proc)
	}
	calmHeader := map[string]string{"Authorization": "Bearer " + calmToken}
	floodHeader := map[string]string{"Authorization": "Bearer " + floodToken}
	out := &FloodIsolation{CalmRate: calmRate, FloodClients: *satClients, LeadIn: floodLeadIn, Redis: e.redisVersion()}
	if out.CalmPolicy, err = policyOf(e.ctx, procs[0].URL+"/project/1", calmHeader); err != nil {
		return err
	}
	if out.FloodPolicy, err = policyOf(e.ctx, procs[0].URL+"/project/1", floodHeader); err != nil {
		return err
	}
	if out.CalmPolicy == "" || out.FloodPolicy == "" || out.CalmPolicy == out.FloodPolicy {
		return fmt.Errorf("the limiting process answered RateLimit-Policy %q to the calm client and %q to the flooding one: want two quotas", out.CalmPolicy, out.FloodPolicy)
	}
	if p, err := policyOf(e.ctx, procs[1].URL+"/project/1", floodHeader); err != nil || p != "" {
		return fmt.Errorf("the process without Redis answered RateLimit-Policy %q (%v), want none", p, err)
	}

	fm := floodMeters{redisMeters: e.redisMeters(), e: e,
		calm:  bench.Paced{Projects: e.small.spec.Projects, Reports: reportsParam, Header: calmHeader, Timeout: e.wrk.Timeout, Rate: calmRate},
		flood: random(e.small, []string{"Authorization: Bearer " + floodToken})}
	calls, usec, _ := e.redisScripts()
	defer func() {
		c, u, p := e.redisScripts()
		out.RedisCalls, out.RedisUsec, out.RedisP999 = c-calls, u-usec, p
	}()
	arms := []arm{
		fm.arm(procs[0], false, &out.On.Alone), fm.arm(procs[0], true, &out.On.Flooded),
		fm.arm(procs[1], false, &out.Off.Alone), fm.arm(procs[1], true, &out.Off.Flooded),
	}
	sums, err := e.compare(out.FloodClients, arms...)
	if err != nil {
		return err
	}
	for i, a := range []*FloodArm{&out.On.Alone, &out.On.Flooded, &out.Off.Alone, &out.Off.Flooded} {
		a.Calm = sums[i]
		a.Flood = bench.Summarize(a.floods)
	}
	out.FloodCommand = e.command(out.FloodClients, random(e.small, []string{"Authorization: Bearer $FLOOD_TOKEN"})(0))
	for _, l := range []struct {
		name string
		l    FloodLevel
	}{{"limiting on", out.On}, {"limiting off", out.Off}} {
		logf("  %s: calm p50/p99 alone %s / %s, flooded %s / %s (p99 %.2f ×), calm errors %d (429: %d); flood %.0f 200s/s, %s × 429 (%.0f/s)",
			l.name, fmtMs(l.l.Alone.Calm.P50), fmtMs(l.l.Alone.Calm.P99), fmtMs(l.l.Flooded.Calm.P50), fmtMs(l.l.Flooded.Calm.P99), l.l.P99Ratio(),
			l.l.Alone.Calm.Errors+l.l.Flooded.Calm.Errors, l.l.Alone.CalmLimited+l.l.Flooded.CalmLimited,
			l.l.Flooded.Flood.RPS, fmtInt(l.l.Flooded.FloodLimited), l.l.Flooded.LimitedPerSecond())
	}
	if out.Profile, err = e.profile("flood-limited", fm.profiled(procs[0]), out.FloodClients, procs[0].DevURL, floodLeadIn); err != nil {
		return err
	}
	e.rep.FloodIsolation = out
	return nil
}

// ready waits (up to 20 s) until the service at url is ready: /readyz
// answers 200 once the issuer's keys are loaded and the database answers.
func ready(ctx context.Context, url string) error {
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			last = err.Error()
			continue
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return nil
		}
		last = res.Status
	}
	return fmt.Errorf("not ready within 20 s (/readyz: %s)", last)
}

// floodMeters run and meter floodIsolation's arms.
type floodMeters struct {
	redisMeters
	e     *env
	calm  bench.Paced
	flood func(run int) bench.Load
}

// arm is the calm client on proc, alone or while the flood runs (from
// floodLeadIn before its run to floodTail after it), with the server-side
// counts, the flood's wrk results and the CPU used added to a (measured
// runs only).
func (m floodMeters) arm(proc *bench.Process, flooded bool, a *FloodArm) arm {
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		r, _, err := m.run(proc, flooded, conns, d, run, a)
		return r, err
	}
}

// profiled is the flooded arm on proc for a profile: its result is the
// flood's, every answer counted (nearly all 429s).
func (m floodMeters) profiled(proc *bench.Process) arm {
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		_, f, err := m.run(proc, true, conns, d, run, nil)
		all := f.Requests + f.Errors
		r := bench.Result{Requests: all, Duration: f.Duration}
		if f.Duration > 0 {
			r.RPS = float64(all) / f.Duration.Seconds()
		}
		return r, err
	}
}

// run is one run of an arm: the calm client's result and the flood's.
func (m floodMeters) run(proc *bench.Process, flooded bool, conns int, d time.Duration, run int, a *FloodArm) (calm, flood bench.Result, err error) {
	before, err := scraped(m.e.ctx, proc.DevURL)
	if err != nil {
		return calm, flood, err
	}
	t0, cpu0 := time.Now(), bench.PidCPU(proc.Pid)
	db0, rd0 := m.cpu()
	busy0, ticks0 := cpuTimes()
	done := make(chan error, 1)
	if flooded {
		go func() {
			var err error
			flood, err = m.e.wrk.Run(m.e.ctx, proc.URL, conns, floodLeadIn+d+floodTail, m.flood(run))
			done <- err
		}()
		select {
		case <-time.After(floodLeadIn):
		case <-m.e.ctx.Done():
		}
	}
	calm = m.calm.Run(m.e.ctx, proc.URL, d, uint64(run+1))
	if flooded {
		err = <-done
		select {
		case <-time.After(floodSettle):
		case <-m.e.ctx.Done():
		}
	}
	if err = errors.Join(err, m.e.ctx.Err()); err != nil {
		return calm, flood, err
	}
	after, err := scraped(m.e.ctx, proc.DevURL)
	if err != nil || a == nil || run >= 50 {
		return calm, flood, err
	}
	db1, rd1 := m.cpu()
	busy1, ticks1 := cpuTimes()
	a.Wall += time.Since(t0)
	a.ServiceCPU += bench.PidCPU(proc.Pid) - cpu0
	a.DBCPU += db1 - db0
	a.RedisCPU += rd1 - rd0
	a.MachineBusy, a.MachineTicks = a.MachineBusy+busy1-busy0, a.MachineTicks+ticks1-ticks0
	rc0, rc1 := rateCounts(before), rateCounts(after)
	a.Shared += rc1[0] - rc0[0]
	a.Local += rc1[1] - rc0[1]
	a.ToLocal += rc1[3] - rc0[3]
	a.CalmLimited += after.sum(metricLimited, "client", authClient.ID) - before.sum(metricLimited, "client", authClient.ID)
	a.FloodLimited += after.sum(metricLimited, "client", floodClient.ID) - before.sum(metricLimited, "client", floodClient.ID)
	if flooded {
		a.floods = append(a.floods, flood)
		a.FloodAnswers += flood.Requests + flood.Errors
		a.FloodWall += flood.Duration
	}
	return calm, flood, nil
}
