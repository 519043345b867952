package main

import (
	"fmt"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// Report is everything a bench run measured; results.json is its JSON and
// report.md.tmpl renders it.
type Report struct {
	Started  time.Time
	Elapsed  time.Duration
	Duration time.Duration // of one measured run
	Runs     int
	Warmup   time.Duration

	Machine                Machine
	Large, Small           dataset.Spec
	LargeLoad, SmallLoad   dataset.Loaded
	WarmupRequests         int64
	Wrk                    string
	Shipped                bench.PoolSettings // etc/project-api.yaml
	StructDefaults, GoZero bench.PoolSettings // config.Config's own defaults; go-zero's built-in pool
	Coalesce               bool
	CpuThreshold           int64 // shipped RestConf.CpuThreshold (shedding)
	Timeout                time.Duration
	ScenarioLoad           []string // load average as each scenario started

	FanOut          *FanOut
	Ceiling         *Ceiling
	PoolDefaults    *PoolDefaults
	HotProject      *HotProject
	CostPerRequest  *CostPerRequest
	SmallRecords    *SmallRecords
	AuthCost        *AuthCost
	AuditRoundTrips *AuditRoundTrips
	Catalogue       *Catalogue
	LimiterCost     *LimiterCost
	FloodIsolation  *FloodIsolation
	CPULimited      *CPULimited
	Replicas        *Replicas

	ServiceLogBytes int64
}

// FanOut: fan-out vs serial behind an injected network latency.
type FanOut struct {
	Clients int
	Command string
	Levels  []FanOutLevel
	Single  *FanOutLevel // the largest latency with 1 client

	SingleCommand string
}

// FanOutLevel is one injected latency.
type FanOutLevel struct {
	Latency                       time.Duration
	RTProject, RTSites, RTReports time.Duration // single reads, one at a time, median
	Fan, Serial                   bench.Summary
}

// Ceiling: the HTTP service vs a bare client issuing the same queries.
type Ceiling struct {
	Clients  int
	Command  string
	IdleRSS  int64 // bytes, before the scenario
	Arms     []CeilingArm
	Shedding bench.Summary // HTTP, interpolateParams on, go-zero shedding as shipped
	Profile  *Profile
}

// CeilingArm is one interpolateParams setting.
type CeilingArm struct {
	Interpolate      string
	Bare, HTTP       bench.Summary
	PeakRSS, MeanRSS int64 // bytes, during the HTTP runs
	HeapInuse        int64 // bytes, after them
}

// Profile is the CPU profile of a saturated HTTP run.
type Profile struct {
	Path      string
	Requests  int64
	RPS       float64
	Flat, Cum string // go tool pprof -top (flat order) and -top -cum
	Answer    string // -top -cum of the samples under the answer's writer (answerFocus)
}

// PoolDefaults: the shipped pool vs go-zero's built-in one.
type PoolDefaults struct {
	Commands []string
	Levels   []PoolLevel
}

// PoolLevel is one concurrency level.
type PoolLevel struct {
	Clients          int
	Defaults, GoZero bench.Summary
}

// HotProject: every client asks for the same project, coalescing on vs
// off, next to random ids; with authentication and the audit off
// (Auth.Disabled) and on (Audit).
type HotProject struct {
	ID, Sites, Reports, Clients int
	Command                     string
	On, Off                     bench.Summary // audit off
	// Random is random ids on the coalescing instance (audit off).
	Random        bench.Summary
	RandomCommand string
	// Audit is the same three arms with authentication and the audit
	// trail on (nil in results from before it was measured).
	Audit *HotArms
}

// HotArms are hotProject's arms with the audit trail on.
type HotArms struct {
	On, Off, Random bench.Summary
}

// HotRow is one arm of hotProject as its table shows it.
type HotRow struct {
	Audit, Arm      string
	S               bench.Summary
	VsOff, VsRandom float64 // req/s ÷ the coalescing-off arm's, ÷ the random ids arm's (0: not measured)
}

// Rows are hotProject's arms: audit off, then on (when measured).
func (h *HotProject) Rows() []HotRow {
	rows := func(audit string, on, off, random bench.Summary) []HotRow {
		vs := func(a, b bench.Summary) float64 {
			if b.RPS == 0 {
				return 0
			}
			return a.RPS / b.RPS
		}
		out := []HotRow{{audit, "hot project, coalescing on", on, vs(on, off), vs(on, random)},
			{audit, "hot project, coalescing off", off, 1, vs(off, random)}}
		if random.RPS > 0 {
			out = append(out, HotRow{audit, "random ids, coalescing on", random, vs(random, off), 1})
		}
		return out
	}
	out := rows("off", h.On, h.Off, h.Random)
	if a := h.Audit; a != nil {
		out = append(out, rows("on", a.On, a.Off, a.Random)...)
	}
	return out
}

// AuditRow is one arm of auditRoundTrips as its table shows it.
type AuditRow struct {
	Clients    int
	Audit      string
	A          AuthArm
	RoundTrips float64 // p50 ÷ one round trip
}

// Rows are auditRoundTrips' arms, audit on then off at each level.
func (a *AuditRoundTrips) Rows() []AuditRow {
	var out []AuditRow
	for _, l := range a.Levels {
		out = append(out, AuditRow{l.Clients, "on", l.On, frac(l.On.P50, a.RTProject)}, AuditRow{l.Clients, "off", l.Off, frac(l.Off.P50, a.RTProject)})
	}
	return out
}

// AuditRoundTrips: the service with authentication and the audit trail on
// and off behind a fault proxy adding Latency to every answer of the
// database, at 1 and at 8 clients.
type AuditRoundTrips struct {
	Latency time.Duration
	// RTProject, RTSites and RTReports are single reads through the proxy,
	// one at a time (median); RTProject is one round trip. RTInsert is one
	// audit row handed to the trail and committed, likewise.
	RTProject, RTSites, RTReports, RTInsert time.Duration
	Levels                                  []AuditLevel
	BodiesCompared                          int
	DBCPUSkipped                            string
}

// AuditLevel is one concurrency of auditRoundTrips.
type AuditLevel struct {
	Clients int
	Command string
	On, Off AuthArm
}

// Catalogue: GET /projects pages walked by saturating clients, with the
// audit trail on and off, next to records with it on.
type Catalogue struct {
	Clients int
	Cores   int // the machine's, for its CPU time per request
	// Filter is the query of the filtered lists; FilterShare the share of
	// all projects it matches.
	Filter      string
	FilterShare float64
	// Record and RecordOff: GET /project/{id}, random ids, audit on and off.
	Record, RecordOff AuthArm
	RecordCommand     string
	Lists             []CatalogueList
	// BodiesCompared pages were answered byte for byte the same with the
	// audit on as with it off.
	BodiesCompared int
	DBCPUSkipped   string
}

// CatalogueList is one list (no filter, or Filter) read in pages of Limit.
type CatalogueList struct {
	Filter   string // "" for none
	Limit    int
	Pages    int // pages of one walk through the whole list
	Projects int // projects in the list
	Command  string
	On, Off  AuthArm // audit on; off (Auth.Disabled)

	file string // the pages' paths, for catalogue.lua
}

// PerPage is the mean number of projects on a page (the clients read the
// pages of the list uniformly).
func (l CatalogueList) PerPage() float64 { return float64(l.Projects) / float64(l.Pages) }

// Name is how the list is named in the report.
func (l CatalogueList) Name() string {
	if l.Filter == "" {
		return "no filter"
	}
	return l.Filter
}

// CostPerRequest: BenchmarkGetProject, the handler-to-JSON cost over fakes.
type CostPerRequest struct {
	Command                 string
	NsOp, BytesOp, AllocsOp float64
	RespBytes               float64
	Raw                     string
}

// SmallRecords: small records, the service as shipped and without shedding
// vs the plain baseline.
type SmallRecords struct {
	Clients                     int
	Command                     string
	Shipped, SheddingOff, Plain bench.Summary
	BodiesCompared              int // requests answered byte-identically by the service and the plain baseline
	Profile                     *Profile
}

// CPULimited: overload of a service process held to a CPU quota.
type CPULimited struct {
	Skipped       string // why it did not run, if it did not
	CPUs          float64
	CgroupVersion int
	Clients       int
	LeadIn        time.Duration // unmeasured load at the start of every run
	Shipped, Off  LimitedArm
	Profile       *Profile // of the shipped process, overloaded
	ShedderLine   string   // the shipped process's last "dropreq" log line
}

// LimitedArm is one service process in its own CPU-limited cgroup.
type LimitedArm struct {
	bench.Summary
	Cores   float64 // CPU the process used, in cores (median over runs)
	PeakRSS int64   // bytes
}

// AuthCost: the service with authentication and the audit trail on vs
// the same build with both off.
type AuthCost struct {
	Clients             int // saturated; the low load is 1 client
	Command, LowCommand string
	Off, On             AuthArm // saturated
	LowOff, LowOn       AuthArm // 1 client
	BodiesCompared      int     // requests answered byte-identically by both arms
	WithoutToken        int     // the on arm's status for a request without a token
	TokenBytes          int
	TokenLifetime       time.Duration
	Profile             *Profile // of the saturated on arm
	DBCPUSkipped        string
}

// AuthRow is one arm of authCost as its table shows it.
type AuthRow struct {
	Load, Name string
	AuthArm
	VsOff float64 // goodput ÷ the off arm's at the same load
}

// Rows are authCost's arms, saturated then at 1 client.
func (a *AuthCost) Rows() []AuthRow {
	sat := fmt.Sprintf("%d clients", a.Clients)
	return []AuthRow{
		{sat, "off", a.Off, 1}, {sat, "on", a.On, a.On.RPS / a.Off.RPS},
		{"1 client", "off", a.LowOff, 1}, {"1 client", "on", a.LowOn, a.LowOn.RPS / a.LowOff.RPS},
	}
}

// AuthArm is one arm of authCost with its server-side counts, totalled
// over its measured runs.
type AuthArm struct {
	bench.Summary
	Usage
	AuditRows int64 // access_audit rows written
	Inserts   int64 // the server's Com_insert delta: INSERT statements
	// Batches and BatchRows are the project_audit_batch_rows histogram's
	// count and sum deltas (the service's own view of its INSERTs).
	Batches, BatchRows int64
	FailedRows         int64 // project_audit_rows_total{result="failed"}: rows whose INSERT failed
	Not2xx             int64 // answers other than 2xx (http_server_requests_code_total), those wrk no longer saw included
	Gone               int64 // of them 499: the client had left (wrk, closing its connections at a run's end)

	counts []int64 // auditCounters' deltas, summed over the measured runs
}

// counted sets the arm's counts from the deltas its runs collected.
func (a *AuthArm) counted() {
	if c := a.counts; len(c) >= 7 {
		a.AuditRows, a.Inserts, a.Batches, a.BatchRows, a.FailedRows, a.Not2xx, a.Gone = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
	}
}

// RowsPerInsert is the audit rows per INSERT statement the database ran.
func (a AuthArm) RowsPerInsert() float64 { return ratio(a.AuditRows, a.Inserts) }

// Usage is what an arm's measured runs cost the machine, totalled.
type Usage struct {
	Answered   int64         // requests the service answered (server side)
	Wall       time.Duration // the runs' measured time
	ServiceCPU time.Duration // the bench process's CPU (the in-process service)
	DBCPU      []time.Duration
	LoadCPU    time.Duration // wrk's
	ProxyCPU   time.Duration // the docker-proxy processes relaying the databases' published ports
	// MachineBusy of MachineTicks: the whole machine's busy CPU time
	// (/proc/stat clock ticks), everyone's.
	MachineBusy, MachineTicks float64
}

// MachineCores is how many of the machine's cores were busy on average.
func (u Usage) MachineCores(cores int) float64 {
	if u.MachineTicks == 0 {
		return 0
	}
	return u.MachineBusy / u.MachineTicks * float64(cores)
}

// MachineCPUPerRequest is the whole machine's busy CPU time (of cores
// cores, everyone's) per answered request.
func (u Usage) MachineCPUPerRequest(cores int) time.Duration {
	return perRequest(time.Duration(u.MachineCores(cores)*float64(u.Wall)), u.Answered)
}

// ServiceCPUPerRequest is the service's CPU time per answered request.
func (u Usage) ServiceCPUPerRequest() time.Duration { return perRequest(u.ServiceCPU, u.Answered) }

// DBCPUPerRequest is database server i's CPU time per answered request.
func (u Usage) DBCPUPerRequest(i int) time.Duration { return perRequest(u.DBCPU[i], u.Answered) }

// DBCPUTotal is all database servers' CPU time.
func (u Usage) DBCPUTotal() time.Duration {
	var sum time.Duration
	for _, d := range u.DBCPU {
		sum += d
	}
	return sum
}

// Cores is d of CPU time over the runs' wall time, in cores.
func (u Usage) Cores(d time.Duration) float64 {
	if u.Wall == 0 {
		return 0
	}
	return d.Seconds() / u.Wall.Seconds()
}

func perRequest(d time.Duration, n int64) time.Duration {
	if n == 0 {
		return 0
	}
	return d / time.Duration(n)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// SelectsPerRequest is server i's SELECTs per answered request.
func (a ReplicaArm) SelectsPerRequest(i int) float64 { return ratio(a.Selects[i], a.Answered) }

// Replicas: the service reading from 0, 1 and 2 replicas of a primary,
// all servers on this machine.
type Replicas struct {
	Clients        int
	Command        string
	Nodes          []string // the servers, in the order of the per-server figures
	Load           dataset.Loaded
	ClusterStart   time.Duration
	Catchup        time.Duration // the replicas applying the data set
	BodiesCompared int
	Arms           []ReplicaArm
	DBCPUSkipped   string
}

// ReplicaArm is the service with Replicas replicas.
type ReplicaArm struct {
	Replicas int
	bench.Summary
	Usage
	Selects []int64 // Com_select delta of each server over the measured runs
}

// LimiterCost: the service with rate limiting on — every request counted
// in Redis against a quota that never trips — vs the same build with it
// off (no Redis.Addr), both with authentication and the audit trail on.
type LimiterCost struct {
	Skipped             string // why it did not run (no Redis), if it did not
	Clients             int    // saturated; the low load is 1 client
	Command, LowCommand string
	Redis               string // its image and version
	Policy              string // the on arm's RateLimit-Policy
	// RedisCalls are the script calls Redis ran during the scenario (the
	// on arms' decisions, warm-up and profile included), RedisUsec the time
	// it spent running them (INFO commandstats).
	RedisCalls, RedisUsec int64
	// RedisP999 is the 99.9th percentile of a script call's run time in
	// Redis since it started (INFO latencystats; both scenarios' calls).
	RedisP999       time.Duration
	Timeout         time.Duration // RateLimit.Timeout: a slower call to Redis is decided locally
	Off, On         LimiterArm    // saturated
	LowOff, LowOn   LimiterArm    // 1 client
	BodiesCompared  int           // requests answered byte-identically by both arms
	Profile         *Profile      // of the saturated on arm
	DBCPUSkipped    string
	RedisCPUSkipped string
}

// LimiterArm is one arm of limiterCost with its server-side counts,
// totalled over its measured runs. Usage.DBCPU is the database's, then
// Redis'.
type LimiterArm struct {
	bench.Summary
	Usage
	// Shared and Local are the limiter's decisions taken on Redis and on the
	// instance's local share (project_rate_decisions_total), Limited those
	// refused, ToLocal its switches to local limiting
	// (project_rate_transitions_total{to="local"}).
	Shared, Local, Limited, ToLocal int64

	counts []int64 // rateCounts' deltas, summed over the measured runs
}

// counted sets the arm's counts from the deltas its runs collected.
func (a *LimiterArm) counted() {
	if c := a.counts; len(c) >= 4 {
		a.Shared, a.Local, a.Limited, a.ToLocal = c[0], c[1], c[2], c[3]
	}
}

// OnRedis: every request the arm's service answered was decided on Redis,
// none locally (the fallback) and none refused.
func (a LimiterArm) OnRedis() bool {
	return a.Answered > 0 && a.Shared == a.Answered && a.Local == 0 && a.Limited == 0 && a.ToLocal == 0
}

// LimiterRow is one arm of limiterCost as its table shows it.
type LimiterRow struct {
	Load, Name string
	LimiterArm
	VsOff float64 // goodput ÷ the off arm's at the same load
}

// Rows are limiterCost's arms, saturated then at 1 client.
func (l *LimiterCost) Rows() []LimiterRow {
	sat := fmt.Sprintf("%d clients", l.Clients)
	return []LimiterRow{
		{sat, "off", l.Off, 1}, {sat, "on", l.On, l.On.RPS / l.Off.RPS},
		{"1 client", "off", l.LowOff, 1}, {"1 client", "on", l.LowOn, l.LowOn.RPS / l.LowOff.RPS},
	}
}

// FloodIsolation: a calm client's latency alone and while another client
// floods the service, with rate limiting on and off.
type FloodIsolation struct {
	Skipped      string        // why it did not run (no Redis), if it did not
	CalmRate     float64       // the calm client's requests per second, one connection
	FloodClients int           // the flood's connections (wrk)
	LeadIn       time.Duration // the flood's start before the calm client's run (and its end after it)
	// CalmPolicy and FloodPolicy are the RateLimit-Policy each client was
	// answered with by the limiting process.
	CalmPolicy, FloodPolicy string
	FloodCommand            string
	Redis                   string
	RedisCalls, RedisUsec   int64 // as in LimiterCost, during the scenario
	RedisP999               time.Duration
	On, Off                 FloodLevel // limiting on; off (no Redis.Addr: the flood reaches the database)
	Profile                 *Profile   // of the limiting process, flooded
}

// FloodLevel is one process of floodIsolation: the calm client alone, and
// flooded.
type FloodLevel struct {
	Alone, Flooded FloodArm
}

// P99Ratio is the calm client's p99 flooded ÷ alone.
func (l FloodLevel) P99Ratio() float64 { return frac(l.Flooded.Calm.P99, l.Alone.Calm.P99) }

// FloodArm is one arm of floodIsolation, its counts totalled over its
// measured runs.
type FloodArm struct {
	Calm  bench.Summary // the calm client (Paced)
	Flood bench.Summary // the flood (wrk; 429s are its errors); empty when alone
	// Wall is the arms' measured time, flood included; FloodWall the
	// flood's and FloodAnswers its answers of any status.
	Wall, FloodWall time.Duration
	FloodAnswers    int64
	// Server side (the process's /metrics): the limiter's decisions on
	// Redis and local, its switches to local, the 429s of each client.
	Shared, Local, ToLocal    int64
	CalmLimited, FloodLimited int64
	// CPU used meanwhile: the service process's, the database's and Redis'
	// containers'; the whole machine's busy time (of MachineTicks).
	ServiceCPU, DBCPU, RedisCPU time.Duration
	MachineBusy, MachineTicks   float64

	floods []bench.Result
}

// LimitedPerSecond is the flood's 429s a second.
func (a FloodArm) LimitedPerSecond() float64 {
	if a.FloodWall == 0 {
		return 0
	}
	return float64(a.FloodLimited) / a.FloodWall.Seconds()
}

// LimitedShare is the share of the flood's answers that were 429.
func (a FloodArm) LimitedShare() float64 { return ratio(a.FloodLimited, a.FloodAnswers) }

// AnswersPerSecond is the flood's answers (any status) a second.
func (a FloodArm) AnswersPerSecond() float64 {
	if a.FloodWall == 0 {
		return 0
	}
	return float64(a.FloodAnswers) / a.FloodWall.Seconds()
}

// Cores is d of CPU time over the arm's wall time, in cores.
func (a FloodArm) Cores(d time.Duration) float64 {
	if a.Wall == 0 {
		return 0
	}
	return d.Seconds() / a.Wall.Seconds()
}

// MachineCores is how many of the machine's cores were busy on average.
func (a FloodArm) MachineCores(cores int) float64 {
	if a.MachineTicks == 0 {
		return 0
	}
	return a.MachineBusy / a.MachineTicks * float64(cores)
}

// FloodRow is one arm of floodIsolation as its table shows it.
type FloodRow struct {
	Limiting, With string // rate limiting on or off; the calm client alone or flooded
	FloodArm
	P99Ratio float64 // the calm client's p99 ÷ alone on the same process
}

// Rows are floodIsolation's arms: limiting on, then off; alone, then flooded.
func (f *FloodIsolation) Rows() []FloodRow {
	var out []FloodRow
	for _, l := range []struct {
		name string
		l    FloodLevel
	}{{"on", f.On}, {"off", f.Off}} {
		out = append(out, FloodRow{l.name, "alone", l.l.Alone, 1}, FloodRow{l.name, "flooded", l.l.Flooded, l.l.P99Ratio()})
	}
	return out
}

// RedisPerCall is Redis' own time per script call.
func (l *LimiterCost) RedisPerCall() time.Duration { return redisPerCall(l.RedisCalls, l.RedisUsec) }

// RedisPerCall is Redis' own time per script call.
func (f *FloodIsolation) RedisPerCall() time.Duration { return redisPerCall(f.RedisCalls, f.RedisUsec) }

func redisPerCall(calls, usec int64) time.Duration {
	return perRequest(time.Duration(usec)*time.Microsecond, calls)
}
