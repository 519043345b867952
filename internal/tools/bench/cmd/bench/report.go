package main

import (
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

	FanOut         *FanOut
	Ceiling        *Ceiling
	PoolDefaults   *PoolDefaults
	HotProject     *HotProject
	CostPerRequest *CostPerRequest
	SmallRecords   *SmallRecords
	CPULimited     *CPULimited

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

// HotProject: every client asks for the same project, coalescing on vs off.
type HotProject struct {
	ID, Sites, Reports, Clients int
	Command                     string
	On, Off                     bench.Summary
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
