package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// summary is a Summary of one run at rps req/s with latencies p50 and p99.
func summary(rps float64, p50, p99 time.Duration) bench.Summary {
	r := bench.Result{Requests: int64(rps * 6), RPS: rps, Duration: 6 * time.Second, P50: p50, P90: p99, P99: p99, Max: p99}
	return bench.Summary{Runs: []bench.Result{r}, Result: r}
}

// audited is an AuthArm of a summary with usage and audit counts.
func audited(s bench.Summary, rows int64) AuthArm {
	n := s.Requests
	return AuthArm{Summary: s, Usage: Usage{Answered: n, Wall: 6 * time.Second, ServiceCPU: time.Duration(n) * 300 * time.Microsecond,
		DBCPU: []time.Duration{time.Duration(n) * 200 * time.Microsecond}, MachineBusy: 1000, MachineTicks: 1200},
		AuditRows: rows, Inserts: max(rows/10, 1), Batches: max(rows/10, 1), BatchRows: rows}
}

// limited is a LimiterArm of a summary, every decision on Redis when on.
func limited(s bench.Summary, on bool) LimiterArm {
	n := s.Requests
	a := LimiterArm{Summary: s, Usage: Usage{Answered: n, Wall: 6 * time.Second, ServiceCPU: time.Duration(n) * 300 * time.Microsecond,
		DBCPU: []time.Duration{time.Duration(n) * 200 * time.Microsecond, 0}, MachineBusy: 1000, MachineTicks: 1200}}
	if on {
		a.Shared, a.DBCPU[1] = n, time.Duration(n)*20*time.Microsecond
	}
	return a
}

// flood is the flood of a FloodArm: wrk's summary and the 429s counted.
type flood struct {
	s       bench.Summary
	limited int64
}

// calm is a FloodArm of the calm client's summary, with a flood or alone.
func calm(s bench.Summary, f *flood) FloodArm {
	a := FloodArm{Calm: s, Wall: 6 * time.Second, ServiceCPU: time.Second, DBCPU: time.Second / 2, MachineBusy: 1000, MachineTicks: 1200, Shared: s.Requests}
	if f != nil {
		a.Flood, a.FloodLimited, a.FloodWall = f.s, f.limited, 8*time.Second
		a.FloodAnswers = f.s.Requests + f.limited
		a.Shared += a.FloodAnswers
		a.Wall = 9 * time.Second
	}
	return a
}

// A report with every section renders, its figures in place: the
// template's mistakes show here, not at the end of a bench run.
func TestEveryScenarioRenders(t *testing.T) {
	ms := time.Millisecond
	rep := &Report{
		Started: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Elapsed: time.Hour, Duration: 6 * time.Second, Runs: 1, Warmup: time.Second,
		Machine: Machine{Cores: 2, CPU: "test"}, Timeout: 3 * time.Second, CpuThreshold: 900,
		FanOut: &FanOut{Clients: 8, Levels: []FanOutLevel{{Latency: 5 * ms, RTProject: 5 * ms, Fan: summary(900, 6*ms, 9*ms), Serial: summary(400, 16*ms, 20*ms)}},
			Single: &FanOutLevel{Latency: 5 * ms, RTProject: 5 * ms, Fan: summary(160, 6*ms, 7*ms), Serial: summary(60, 16*ms, 17*ms)}},
		Ceiling: &Ceiling{Clients: 64, Arms: []CeilingArm{{Interpolate: "on", Bare: summary(3000, 20*ms, 40*ms), HTTP: summary(2500, 25*ms, 50*ms)},
			{Interpolate: "off", Bare: summary(2000, 30*ms, 50*ms), HTTP: summary(1800, 35*ms, 60*ms)}}},
		PoolDefaults: &PoolDefaults{Levels: []PoolLevel{{Clients: 16, Defaults: summary(2000, 8*ms, 20*ms), GoZero: summary(1990, 8*ms, 21*ms)}}},
		HotProject: &HotProject{ID: 7, Sites: 60, Reports: 400, Clients: 64, On: summary(9000, 7*ms, 15*ms), Off: summary(2000, 30*ms, 60*ms),
			Random: summary(2500, 25*ms, 50*ms), Audit: &HotArms{On: summary(6000, 10*ms, 20*ms), Off: summary(1800, 35*ms, 70*ms), Random: summary(2000, 30*ms, 60*ms)}},
		CostPerRequest: &CostPerRequest{NsOp: 100000, BytesOp: 22000, AllocsOp: 157, RespBytes: 12963},
		SmallRecords:   &SmallRecords{Clients: 32, Shipped: summary(3000, 10*ms, 20*ms), SheddingOff: summary(3000, 10*ms, 20*ms), Plain: summary(3300, 9*ms, 18*ms)},
		AuthCost: &AuthCost{Clients: 64, Off: audited(summary(3000, 20*ms, 40*ms), 0), On: audited(summary(2600, 24*ms, 45*ms), 15600),
			LowOff: audited(summary(500, 2*ms, 3*ms), 0), LowOn: audited(summary(400, 2500*time.Microsecond, 4*ms), 2400)},
		AuditRoundTrips: &AuditRoundTrips{Latency: 20 * ms, RTProject: 20 * ms, RTSites: 21 * ms, RTReports: 21 * ms, RTInsert: 22 * ms,
			Levels: []AuditLevel{{Clients: 1, Command: "wrk -c1", On: audited(summary(45, 22*ms, 25*ms), 270), Off: audited(summary(46, 21*ms, 24*ms), 0)},
				{Clients: 8, Command: "wrk -c8", On: audited(summary(340, 23*ms, 30*ms), 2040), Off: audited(summary(360, 22*ms, 28*ms), 0)}}},
		Catalogue: &Catalogue{Clients: 64, Cores: 2, Filter: "country=SE&status=completed", FilterShare: 0.3,
			Record: audited(summary(2000, 30*ms, 60*ms), 12000), RecordOff: audited(summary(2400, 25*ms, 50*ms), 0),
			Lists: []CatalogueList{
				{Limit: 20, Pages: 500, Projects: 10000, Command: "wrk a", On: audited(summary(1500, 40*ms, 80*ms), 180000), Off: audited(summary(2000, 30*ms, 60*ms), 0)},
				{Limit: 100, Pages: 100, Projects: 10000, Command: "wrk b", On: audited(summary(500, 120*ms, 200*ms), 300000), Off: audited(summary(800, 80*ms, 150*ms), 0)},
				{Filter: "country=SE&status=completed", Limit: 20, Pages: 150, Projects: 2990, Command: "wrk c", On: audited(summary(1200, 50*ms, 90*ms), 144000), Off: audited(summary(1600, 40*ms, 70*ms), 0)},
				{Filter: "country=SE&status=completed", Limit: 100, Pages: 30, Projects: 2990, Command: "wrk d", On: audited(summary(400, 150*ms, 250*ms), 240000), Off: audited(summary(600, 100*ms, 180*ms), 0)},
			}},
		LimiterCost: &LimiterCost{Clients: 64, Command: "wrk -c64", LowCommand: "wrk -c1", Redis: "redis:7, Redis 7.0.15", Policy: `"default";q=1000000000;w=1`, Timeout: 50 * ms,
			Off: limited(summary(2600, 24*ms, 45*ms), false), On: limited(summary(2500, 25*ms, 47*ms), true),
			LowOff: limited(summary(400, 2500*time.Microsecond, 4*ms), false), LowOn: limited(summary(380, 2600*time.Microsecond, 4*ms), true),
			RedisCalls: 20000, RedisUsec: 80000, RedisP999: 60 * time.Microsecond,
			Profile: &Profile{Path: "cpu-limiter-on.pprof", RPS: 2400}},
		FloodIsolation: &FloodIsolation{CalmRate: 25, FloodClients: 64, LeadIn: time.Second, CalmPolicy: `"default";q=100;w=2`, FloodPolicy: `"bench-flood";q=100;w=1`,
			FloodCommand: "wrk -c64 flood", Redis: "redis:7", RedisCalls: 60000, RedisUsec: 240000,
			On:      FloodLevel{Alone: calm(summary(25, 2*ms, 4*ms), nil), Flooded: calm(summary(25, 3*ms, 5*ms), &flood{summary(100, 5*ms, 20*ms), 60000})},
			Off:     FloodLevel{Alone: calm(summary(25, 2*ms, 4*ms), nil), Flooded: calm(summary(24, 30*ms, 80*ms), &flood{summary(2000, 30*ms, 60*ms), 0})},
			Profile: &Profile{Path: "cpu-flood-limited.pprof", RPS: 10000}},
		CPULimited: &CPULimited{CPUs: 0.25, Clients: 256, Profile: &Profile{Path: "cpu-limited-shipped.pprof", RPS: 300}, Shipped: LimitedArm{Summary: summary(300, 100*ms, 900*ms)}, Off: LimitedArm{Summary: summary(280, 500*ms, 2900*ms)}},
		Replicas: &Replicas{Clients: 32, Nodes: []string{"primary", "replica 1"}, Arms: []ReplicaArm{
			{Replicas: 0, Summary: summary(2000, 15*ms, 30*ms), Usage: Usage{Answered: 12000, Wall: 6 * time.Second, DBCPU: []time.Duration{time.Second, 0}}, Selects: []int64{36000, 10}},
			{Replicas: 1, Summary: summary(1900, 16*ms, 32*ms), Usage: Usage{Answered: 11400, Wall: 6 * time.Second, DBCPU: []time.Duration{time.Second / 10, time.Second}}, Selects: []int64{100, 34200}}}},
	}
	md, err := rep.Markdown()
	if err != nil {
		t.Fatal(err)
	}
	out := string(md)
	if dump := os.Getenv("BENCH_RENDER_DUMP"); dump != "" {
		_ = os.WriteFile(dump, md, 0o644)
	}
	for _, want := range []string{
		"## The audit in round trips (`auditRoundTrips`)", "| 8 | on | **1.15** |",
		"## The catalogue: pages of `GET /projects` at saturation (`catalogue`)", "| no filter | 20 | 500 | 20.0 | on | 1500 | **0.75** | 30000 |",
		"| country=SE&status=completed | 100 | 30 | 99.7 | on |",
		"access control c · auditRoundTrips: the audit costs no round trip, 20.0 ms per answer of the database, 1 client(s)",
		"access control d · catalogue: a page of 20 (no filter) vs a record", "access control e · catalogue: the audit's cost per disclosed project",
		"hotProject: one project vs random ids, authentication + audit on, 64 clients", "| on | hot project, coalescing on | **3.33** | **3.00** |",
		"pprof is off as\nshipped",
		"## The cost of rate limiting: every request counted in Redis, on vs off (`limiterCost`)", "| 64 clients | on | 2500 | **0.96** |",
		"rate limits a · limiterCost: throughput, rate limiting on (Redis, a quota that never trips) vs off, 64 clients", "saturated, **every decision was taken on Redis**\n(15,000 on Redis for 15,000 answers, 0 locally, 0 switches to local limiting); at 1 client, every one (2,280 for 2,280, 0 locally).",
		"## One client floods, another stays calm (`floodIsolation`)", "| on | flooded | 3.00 ms / 5.00 ms | **1.25** |", "| off | alone | 2.00 ms / 4.00 ms | **1.00** |",
		"rate limits c · floodIsolation: a calm client (25 req/s, 1 connection) while another floods (64 connections), rate limiting on",
		"1.25 × (p99 5.00 ms vs 4.00 ms", "60,000 × 429", "rate limits d · floodIsolation: the same with rate limiting off",
		"20,000 script calls during the scenario, 4.0 µs each on average, p99.9 60.0 µs", "Every decision of the flooded limiting process was taken on the shared quota, with 60,000 script calls to Redis over the whole scenario (a refusal is remembered until its window ends).",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(out, "<no value>") || strings.Contains(out, "NaN") || strings.Contains(out, "%!") {
		t.Errorf("the report has an empty or bad value:\n%s", out)
	}
}
