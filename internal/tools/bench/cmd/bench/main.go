// Command bench is `make bench`: it starts a throwaway database
// (internal/testing/dbtest), loads two generated data sets into it
// (internal/testing/dataset), runs the service in the variants the
// scenarios compare — in-process on loopback ports, or as a process of its
// own in a CPU-limited cgroup, with authentication on (an in-process
// OpenID Provider, the audit trail on), with rate limits counted in a
// throwaway Redis (internal/testing/redistest), over a replicated cluster
// of its own (internal/testing/replicatest) — next to its baselines (a bare Go
// client, a serial service, a plain net/http one), drives them with wrk or a Go
// client, and writes docs/PERFORMANCE.md and docs/performance.png. Raw
// results, CPU profiles and the service's logs go to .cache/bench/.
//
//	DBTEST_IMAGE=projectsvc-mariadb:10.11 go run ./internal/tools/bench/cmd/bench
//
// Every figure is the median of -runs runs of -duration each; the arms of a
// comparison are run alternately (A B A B A B), so drift hits both alike.
//
// -scenarios picks scenarios by name (e.g. -scenarios fanOut,hotProject);
// -render re-renders the docs from a results.json without measuring;
// -hold loads the data sets and waits, printing their DSNs, for
// investigating by hand.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// scenario is one comparison the bench makes; -scenarios takes its name.
type scenario struct {
	name, what   string
	large, small bool // the data sets it reads
	run          func(*env) error
}

// scenarios in the order they run.
var scenarios = []scenario{
	{"fanOut", "fan-out vs serial behind an injected network latency", true, false, (*env).fanOut},
	{"ceiling", "the HTTP service vs a bare client issuing the same queries", true, false, (*env).ceiling},
	{"poolDefaults", "the shipped pool vs go-zero's built-in one", true, false, (*env).poolDefaults},
	{"hotProject", "one hot project, coalescing on vs off", true, false, (*env).hotProject},
	{"costPerRequest", "BenchmarkGetProject: CPU and allocations per request over fakes", false, false, (*env).costPerRequest},
	{"smallRecords", "small records: the service as shipped and without shedding vs the plain baseline", false, true, (*env).smallRecords},
	{"authCost", "authentication and the audit trail on vs off, saturated and at 1 client", false, true, (*env).authCost},
	{"auditRoundTrips", "the audit trail on vs off behind 20 ms of database latency, in round trips at 1 and 8 clients", true, false, (*env).auditRoundTrips},
	{"catalogue", "GET /projects pages walked at saturation, audit on vs off, next to records", true, false, (*env).catalogue},
	{"limiterCost", "rate limiting on (Redis, a quota that never trips) vs off, saturated and at 1 client", false, true, (*env).limiterCost},
	{"floodIsolation", "a calm client's latency alone and while another floods, rate limiting on vs off", false, true, (*env).floodIsolation},
	{"cpuLimited", "overload of a CPU-limited service process, shedding as shipped vs off", false, true, (*env).cpuLimited},
	{"replicas", "reads from 0, 1 and 2 replicas of a primary, all on this machine", false, false, (*env).replicas},
}

func scenarioNames() string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}

var (
	outDir       = flag.String("out", "docs", "directory for PERFORMANCE.md and performance.png")
	artifactsDir = flag.String("artifacts", ".cache/bench", "directory for raw results, CPU profiles and service logs")
	duration     = flag.Duration("duration", 6*time.Second, "length of one measured run")
	runs         = flag.Int("runs", 3, "measured runs per figure (figures are medians over runs)")
	warmup       = flag.Duration("warmup", 2*time.Second, "unmeasured warm-up load before each comparison")
	only         = flag.String("scenarios", scenarioNames(), "scenarios to run, comma-separated")
	wrkBin       = flag.String("wrk", "wrk", "the wrk binary")
	satClients   = flag.Int("saturation-clients", 64, "concurrency of the ceiling scenario (saturated)")
	render       = flag.String("render", "", "only re-render PERFORMANCE.md and performance.png from this results.json")
	hold         = flag.Bool("hold", false, "load the data sets, print their DSNs and wait for Ctrl-C (for investigating by hand)")
)

// The pinned load tool: wrk 4.1 (Debian package wrk, upstream 4.1.0).
const wrkVersion = "4.1"

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run() error {
	began := time.Now()
	root, err := testenv.Root()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	if *render != "" {
		return rerender(*render)
	}
	want := map[string]bool{}
	large, small := *hold, *hold
	for _, s := range strings.Split(*only, ",") {
		name := strings.TrimSpace(s)
		i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.name == name })
		if i < 0 {
			return fmt.Errorf("-scenarios: no scenario %q (there are %s)", name, scenarioNames())
		}
		want[name], large, small = true, large || scenarios[i].large, small || scenarios[i].small
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	w, err := loadTool(root)
	if err != nil {
		return err
	}
	for _, dir := range []string{*artifactsDir, *outDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}

	// The service's configuration as shipped; the environment must not
	// change what is measured.
	for _, k := range []string{"MYSQL_DSN", "MYSQL_MAX_OPEN_CONNS", "MYSQL_MAX_IDLE_CONNS", "MYSQL_CONN_MAX_LIFETIME", "MYSQL_CONN_MAX_IDLE_TIME",
		"AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL", config.ReplicasEnv, "REDIS_ADDR", "REDIS_USER", "REDIS_PASSWORD"} {
		os.Unsetenv(k)
	}
	base, err := bench.BaseConfig()
	if err != nil {
		return err
	}
	structDefaults, err := bench.StructDefaults()
	if err != nil {
		return err
	}
	if err := base.SetUp(); err != nil {
		return err
	}
	// The service logs as configured (every request at info level); the
	// lines go to a file instead of the terminal.
	logPath := filepath.Join(*artifactsDir, "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logx.SetWriter(logx.NewWriter(logFile))

	rep := &Report{
		Started: began.UTC(), Duration: *duration, Runs: *runs, Warmup: *warmup,
		Large: bench.LargeRecords, Small: bench.SmallRecords,
		Shipped: bench.PoolOf(base), StructDefaults: structDefaults, GoZero: bench.GoZeroPool,
		Coalesce: base.Coalesce, CpuThreshold: base.CpuThreshold, Timeout: time.Duration(base.Timeout) * time.Millisecond,
		Wrk: w.Version(), Machine: machine(),
	}
	rep.Machine.LoadBefore = loadavg()
	rep.Machine.BusyBefore = cpuBusy(2 * time.Second)

	// Ctrl-C or SIGTERM cancels the scenario running; the database container is removed on the way out.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	e := &env{ctx: ctx, wrk: w, timeout: rep.Timeout, rep: rep}
	stop, err := e.startDatabase(large, small)
	if err != nil {
		return err
	}
	defer stop()
	defer e.stopIssuer()
	defer e.stopRedis()
	if *hold {
		logf("holding; the data sets are at %s and %s (Ctrl-C removes the container)", e.large.dsn, e.small.dsn)
		<-ctx.Done()
		return nil
	}

	for _, s := range scenarios {
		if !want[s.name] {
			continue
		}
		t0 := time.Now()
		rep.ScenarioLoad = append(rep.ScenarioLoad, s.name+": "+loadavg())
		logf("%s: %s", s.name, s.what)
		if err := s.run(e); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		logf("%s done in %s", s.name, time.Since(t0).Round(time.Second))
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	rep.Machine.LoadAfter = loadavg()
	rep.Machine.BusyAfter = cpuBusy(2 * time.Second) // our load has stopped; the database idles
	if st, err := logFile.Stat(); err == nil {
		rep.ServiceLogBytes = st.Size()
	}
	if err := dropAccessLines(logPath); err != nil {
		return err
	}
	rep.Elapsed = time.Since(began)

	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*artifactsDir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	if err := write(rep); err != nil {
		return err
	}
	logf("done in %s: %s, %s; raw results, CPU profiles and service logs in %s/",
		time.Since(began).Round(time.Second), filepath.Join(*outDir, "PERFORMANCE.md"), filepath.Join(*outDir, "performance.png"), *artifactsDir)
	return nil
}

// loadTool finds the load tool and the chart tool (internal/tools/bench/tools.sh installs both).
func loadTool(root string) (bench.Wrk, error) {
	w := bench.Wrk{Bin: *wrkBin, Script: filepath.Join(root, "internal/tools/bench/project.lua"),
		ScriptShown: "internal/tools/bench/project.lua", Timeout: 10 * time.Second}
	p, err := exec.LookPath(w.Bin)
	if err != nil {
		return w, fmt.Errorf("wrk not found (run internal/tools/bench/tools.sh, or `make bench`, which does): %w", err)
	}
	w.Bin = p
	if err := w.CheckVersion(wrkVersion); err != nil {
		return w, err
	}
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return w, fmt.Errorf("gnuplot not found (run internal/tools/bench/tools.sh, or `make bench`, which does): %w", err)
	}
	return w, nil
}

// write renders the report into -out.
func write(rep *Report) error {
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	if rep.PoolDefaults != nil {
		if err := plot(rep, filepath.Join(*outDir, "performance.png"), *artifactsDir); err != nil {
			return err
		}
	}
	md, err := rep.Markdown()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*outDir, "PERFORMANCE.md"), md, 0o644)
}

// rerender renders a previous run's results.json again.
func rerender(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return write(&rep)
}
