// Command bench is `make bench`: it starts a throwaway database
// (internal/testing/dbtest), loads a generated, realistic data set into it, runs the
// service in-process on loopback ports in several variants, drives them with
// wrk (and a bare Go client for the ceiling), and writes docs/PERFORMANCE.md
// and docs/performance.png. Raw results, the CPU profile and the service's
// log go to .cache/bench/.
//
//	DBTEST_IMAGE=projectsvc-mariadb:10.11 go run ./internal/tools/bench/cmd/bench
//
// Every figure is the median of -runs runs of -duration each; the arms of a
// comparison are run alternately (A B A B A B), so drift hits both alike.
//
// -scenarios picks scenarios (e.g. -scenarios 1,4); -render re-renders the
// docs from a results.json without measuring; -hold loads the data set and
// waits, printing its DSN, for investigating by hand.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

var (
	outDir       = flag.String("out", "docs", "directory for PERFORMANCE.md and performance.png")
	artifactsDir = flag.String("artifacts", ".cache/bench", "directory for raw results, the CPU profile and the service log")
	duration     = flag.Duration("duration", 6*time.Second, "length of one measured run")
	runs         = flag.Int("runs", 3, "measured runs per figure (figures are medians over runs)")
	warmup       = flag.Duration("warmup", 2*time.Second, "unmeasured warm-up load before each comparison")
	scenarios    = flag.String("scenarios", "1,2,3,4,5", "scenarios to run (1 fan-out vs serial, 2 ceiling, 3 pool, 4 hot project, 5 cost per request)")
	wrkBin       = flag.String("wrk", "wrk", "the wrk binary")
	satClients   = flag.Int("saturation-clients", 64, "concurrency of scenario 2 (saturated)")
	render       = flag.String("render", "", "only re-render PERFORMANCE.md and performance.png from this results.json")
	hold         = flag.Bool("hold", false, "load the data set, print its DSN and wait for Ctrl-C (for investigating by hand)")
)

// The pinned load tool: wrk 4.1 (Debian package wrk, upstream 4.1.0).
const wrkVersion = "4.1"

// Fixed parameters of the scenarios.
const (
	reportsParam = 10 // ?reports= of every request (the API's default)
	s1Clients    = 8
	s4Clients    = 64
	rtReads      = 100 // single reads per query per round-trip measurement
)

var (
	s1Latencies = []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond}
	s3Levels    = []int{16, 64, 256}
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// env is what every scenario uses.
type env struct {
	ctx      context.Context
	base     config.Config
	defaults bench.PoolSettings // the shipped pool settings
	dsn      string             // the service's DSN, straight to the database
	db       *dbtest.Server
	data     bench.Dataset
	wrk      bench.Wrk
	timeout  time.Duration
	rep      *Report
}

func logf(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run() error {
	began := time.Now()
	root, err := repoRoot()
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
	for _, s := range strings.Split(*scenarios, ",") {
		want[strings.TrimSpace(s)] = true
	}
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}

	// The load tool and the chart tool (internal/tools/bench/tools.sh installs both).
	w := bench.Wrk{Bin: *wrkBin, Script: filepath.Join(root, "internal/tools/bench/project.lua"),
		ScriptShown: "internal/tools/bench/project.lua", Timeout: 10 * time.Second}
	if p, err := exec.LookPath(w.Bin); err != nil {
		return fmt.Errorf("wrk not found (run internal/tools/bench/tools.sh, or `make bench`, which does): %w", err)
	} else {
		w.Bin = p
	}
	if err := w.CheckVersion(wrkVersion); err != nil {
		return err
	}
	if _, err := exec.LookPath("gnuplot"); err != nil {
		return fmt.Errorf("gnuplot not found (run internal/tools/bench/tools.sh, or `make bench`, which does): %w", err)
	}
	if err := os.MkdirAll(*artifactsDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}

	// The service's configuration as shipped; the environment must not
	// change what is measured.
	for _, k := range []string{"MYSQL_DSN", "MYSQL_MAX_OPEN_CONNS", "MYSQL_MAX_IDLE_CONNS", "MYSQL_CONN_MAX_LIFETIME", "MYSQL_CONN_MAX_IDLE_TIME"} {
		os.Unsetenv(k)
	}
	base, structDefaults, err := bench.BaseConfig("etc/project-api.yaml")
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
		Started:        began.UTC(),
		Duration:       *duration,
		Runs:           *runs,
		Warmup:         *warmup,
		Data:           bench.DefaultDataset,
		Shipped:        bench.PoolOf(base),
		StructDefaults: structDefaults,
		GoZero:         bench.GoZeroPool,
		Coalesce:       base.Coalesce,
		CpuThreshold:   base.CpuThreshold,
		Timeout:        time.Duration(base.Timeout) * time.Millisecond,
		Wrk:            w.Version(),
		Machine:        machine(),
	}
	rep.Machine.LoadBefore = loadavg()
	rep.Machine.BusyBefore = cpuBusy(2 * time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dbServer atomic.Pointer[dbtest.Server]
	interrupted(cancel, &dbServer)

	logf("starting the database (%s)", dbtest.Image())
	srv, err := dbtest.Start(ctx)
	if err != nil {
		return err
	}
	dbServer.Store(srv)
	defer func() {
		tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
		defer tcancel()
		if err := srv.Terminate(tctx); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		} else {
			logf("database container removed")
		}
	}()
	rep.Machine.DBImage = dbtest.Image()
	name, err := srv.CreateDatabase(ctx, "sql/schema.sql")
	if err != nil {
		return err
	}
	if err := loadData(ctx, srv, name, rep); err != nil {
		return err
	}
	if *hold {
		logf("holding; the data set is at %s (Ctrl-C removes the container)", srv.RootDSN(name))
		<-ctx.Done()
		return nil
	}

	e := &env{ctx: ctx, base: base, defaults: bench.PoolOf(base), dsn: srv.DSN(name), db: srv,
		data: bench.DefaultDataset, wrk: w, timeout: rep.Timeout, rep: rep}
	if err := e.warmAll(); err != nil {
		return err
	}
	steps := []struct {
		id  string
		run func() error
	}{
		{"1", e.scenario1}, {"2", e.scenario2}, {"3", e.scenario3}, {"4", e.scenario4}, {"5", e.scenario5},
	}
	for _, s := range steps {
		if !want[s.id] {
			continue
		}
		t0 := time.Now()
		rep.ScenarioLoad = append(rep.ScenarioLoad, "scenario "+s.id+": "+loadavg())
		if err := s.run(); err != nil {
			return fmt.Errorf("scenario %s: %w", s.id, err)
		}
		logf("scenario %s done in %s", s.id, time.Since(t0).Round(time.Second))
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
	logf("done in %s: %s, %s; raw results, CPU profile and service log in %s/",
		time.Since(began).Round(time.Second), filepath.Join(*outDir, "PERFORMANCE.md"), filepath.Join(*outDir, "performance.png"), *artifactsDir)
	return nil
}

// write renders the report into -out.
func write(rep *Report) error {
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(*artifactsDir, 0o755); err != nil {
		return err
	}
	if rep.S3 != nil {
		if err := plot(rep, filepath.Join(*outDir, "performance.png"), *artifactsDir); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(*outDir, "PERFORMANCE.md"), []byte(rep.Markdown()), 0o644)
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

// interrupted removes the database container on Ctrl-C / SIGTERM and exits.
func interrupted(cancel context.CancelFunc, srv *atomic.Pointer[dbtest.Server]) {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigc
		fmt.Fprintf(os.Stderr, "bench: %v: removing the database container\n", sig)
		cancel()
		if s := srv.Load(); s != nil {
			ctx, c := context.WithTimeout(context.Background(), 30*time.Second)
			_ = s.Terminate(ctx)
			c()
		}
		os.Exit(130)
	}()
}

// loadData sizes the buffer pool for the data set and loads it.
func loadData(ctx context.Context, srv *dbtest.Server, name string, rep *Report) error {
	db, err := mysqlOpen(srv.RootDSN(name))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&rep.Machine.DBVersion); err != nil {
		return err
	}
	// A server sized for its data keeps the working set in memory; the
	// image's default (128 MiB) is a laptop default. Resized at runtime
	// (MySQL 8 and MariaDB 10.11 both allow it).
	if _, err := db.ExecContext(ctx, "SET GLOBAL innodb_buffer_pool_size = 2147483648"); err != nil {
		return fmt.Errorf("resize the buffer pool: %w", err)
	}
	logf("generating and loading %d projects, %d institutions, %d-%d sites and %d-%d reports per project (seed %d)",
		rep.Data.Projects, rep.Data.Institutions, rep.Data.MinSites, rep.Data.MaxSites, rep.Data.MinReports, rep.Data.MaxReports, rep.Data.Seed)
	st, err := rep.Data.Load(ctx, db, func(line string) { logf("  %s", line) })
	if err != nil {
		return err
	}
	rep.Load = st
	for q, dst := range map[string]*int64{
		"SELECT @@innodb_buffer_pool_size": &rep.Machine.BufferPool,
		"SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()": &rep.Machine.DataBytes,
	} {
		if err := db.QueryRowContext(ctx, q).Scan(dst); err != nil {
			return err
		}
	}
	logf("loaded %s in %s (%d MiB on disk, summaries avg %d bytes)", fmtInt(st.Reports)+" reports",
		st.Duration.Round(100*time.Millisecond), rep.Machine.DataBytes>>20, st.SummaryAvg())
	return nil
}

// warmAll reads every project once, so every scenario starts with the
// working set in the buffer pool and the pool's connections open.
func (e *env) warmAll() error {
	t0 := time.Now()
	s, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: e.defaults})
	if err != nil {
		return err
	}
	defer s.Close()
	failed, err := e.bare(s).ReadAll(e.ctx, 16)
	if failed > 0 {
		return fmt.Errorf("warm-up: %d of %d loads failed, first: %w", failed, e.data.Projects, err)
	}
	e.rep.WarmupRequests = int64(e.data.Projects)
	logf("warm-up: all %d projects read once in %s", e.data.Projects, time.Since(t0).Round(100*time.Millisecond))
	return nil
}

func (e *env) bare(s *bench.Service) bench.Bare {
	return bench.Bare{Svc: s.Svc, Projects: e.data.Projects, Reports: reportsParam, Timeout: e.timeout, Seed: e.data.Seed}
}

// randomArgs are project.lua's arguments for uniformly random ids; run
// selects the stream (both arms of a comparison get the same one).
func (e *env) randomArgs(run int) []string {
	return []string{"random", strconv.Itoa(e.data.Projects), strconv.Itoa(reportsParam), strconv.Itoa(run + 1)}
}

// http runs wrk against s and adds the pool's wait statistics of the run.
func (e *env) http(s *bench.Service, conns int, d time.Duration, args []string) (bench.Result, error) {
	before := s.Svc.DB.Stats()
	r, err := e.wrk.Run(e.ctx, s.URL, conns, d, args...)
	after := s.Svc.DB.Stats()
	r.WaitCount = after.WaitCount - before.WaitCount
	r.WaitDuration = after.WaitDuration - before.WaitDuration
	r.MaxLifetimeClosed = after.MaxLifetimeClosed - before.MaxLifetimeClosed
	return r, err
}

// ---- scenario 1: fan-out vs serial behind an injected network latency ----

func (e *env) scenario1() error {
	logf("scenario 1: fan-out vs serial through toxiproxy, %d clients", s1Clients)
	proxy, err := faultproxy.Start(e.db.Addr())
	if err != nil {
		return err
	}
	defer proxy.Close()
	cfg, err := mysql.ParseDSN(e.dsn)
	if err != nil {
		return err
	}
	cfg.Addr = proxy.Addr()
	dsn := cfg.FormatDSN()
	fan, err := bench.StartService(e.base, bench.Options{DSN: dsn, Pool: e.defaults})
	if err != nil {
		return err
	}
	defer fan.Close()
	ser, err := bench.StartService(e.base, bench.Options{DSN: dsn, Pool: e.defaults, Serial: true})
	if err != nil {
		return err
	}
	defer ser.Close()

	out := &S1{Clients: s1Clients, Command: e.wrk.Command(s1Clients, *duration, e.randomArgs(0)...)}
	for _, lat := range s1Latencies {
		proxy.Reset()
		if lat > 0 {
			if err := proxy.Latency(lat); err != nil {
				return err
			}
		}
		for _, s := range []*bench.Service{fan, ser} {
			if _, err := e.http(s, s1Clients, *warmup, e.randomArgs(99)); err != nil {
				return err
			}
		}
		level := S1Level{Latency: lat}
		b := e.bare(fan)
		var rp, rs, rr []time.Duration
		for range *runs {
			p, s, r, err := b.RoundTrips(e.ctx, rtReads)
			if err != nil {
				return fmt.Errorf("round trip: %w", err)
			}
			rp, rs, rr = append(rp, p), append(rs, s), append(rr, r)
		}
		level.RTProject, level.RTSites, level.RTReports = bench.Median(rp), bench.Median(rs), bench.Median(rr)
		var fr, sr []bench.Result
		for i := range *runs {
			r, err := e.http(fan, s1Clients, *duration, e.randomArgs(i))
			if err != nil {
				return err
			}
			fr = append(fr, r)
			r, err = e.http(ser, s1Clients, *duration, e.randomArgs(i))
			if err != nil {
				return err
			}
			sr = append(sr, r)
		}
		level.Fan, level.Serial = bench.Summarize(fr), bench.Summarize(sr)
		logf("  latency %-4s RT %s | fan-out p50 %s p99 %s %.0f/s | serial p50 %s p99 %s %.0f/s", lat, fmtMs(level.RTProject),
			fmtMs(level.Fan.P50), fmtMs(level.Fan.P99), level.Fan.RPS, fmtMs(level.Serial.P50), fmtMs(level.Serial.P99), level.Serial.RPS)
		out.Levels = append(out.Levels, level)
	}

	// Context: the largest latency again with one client, where nothing
	// queues and the difference is the round trips alone.
	last := out.Levels[len(out.Levels)-1]
	single := S1Level{Latency: last.Latency, RTProject: last.RTProject, RTSites: last.RTSites, RTReports: last.RTReports}
	var fr, sr []bench.Result
	for i := range *runs {
		r, err := e.http(fan, 1, *duration, e.randomArgs(i))
		if err != nil {
			return err
		}
		fr = append(fr, r)
		r, err = e.http(ser, 1, *duration, e.randomArgs(i))
		if err != nil {
			return err
		}
		sr = append(sr, r)
	}
	single.Fan, single.Serial = bench.Summarize(fr), bench.Summarize(sr)
	out.Single = &single
	out.SingleCommand = e.wrk.Command(1, *duration, e.randomArgs(0)...)
	logf("  latency %-4s 1 client: fan-out p50 %s | serial p50 %s", single.Latency, fmtMs(single.Fan.P50), fmtMs(single.Serial.P50))
	e.rep.S1 = out
	return nil
}

// ---- scenario 2: the ceiling, and interpolateParams ----

func (e *env) scenario2() error {
	conc := *satClients
	logf("scenario 2: bare client vs HTTP at %d clients (coalescing off)", conc)
	out := &S2{Clients: conc, Command: e.wrk.Command(conc, *duration, e.randomArgs(0)...)}
	runtime.GC()
	debug.FreeOSMemory()
	out.IdleRSSKiB, _ = bench.VmRSS()
	for _, arm := range []struct {
		name string
		dsn  string
	}{{"on", e.dsn}, {"off", bench.WithParam(e.dsn, "interpolateParams", "false")}} {
		s, err := bench.StartService(e.base, bench.Options{DSN: arm.dsn, Pool: e.defaults})
		if err != nil {
			return err
		}
		b := e.bare(s)
		b.Run(e.ctx, conc, *warmup)
		if _, err := e.http(s, conc, *warmup, e.randomArgs(99)); err != nil {
			s.Close()
			return err
		}
		a := S2Arm{Interpolate: arm.name}
		var br, hr []bench.Result
		for i := range *runs {
			b.Seed = uint64(i + 1)
			br = append(br, b.Run(e.ctx, conc, *duration))
			rss := bench.SampleRSS(250 * time.Millisecond)
			r, err := e.http(s, conc, *duration, e.randomArgs(i))
			peak, mean := rss.Stop()
			if err != nil {
				s.Close()
				return err
			}
			hr = append(hr, r)
			a.PeakRSSKiB = max(a.PeakRSSKiB, peak)
			a.MeanRSSKiB = max(a.MeanRSSKiB, mean)
		}
		var mem runtime.MemStats
		runtime.ReadMemStats(&mem)
		a.HeapInuseKiB = int64(mem.HeapInuse >> 10)
		a.Bare, a.HTTP = bench.Summarize(br), bench.Summarize(hr)
		logf("  interpolateParams=%s: bare %.0f/s p99 %s | HTTP %.0f/s p99 %s errors %d | peak RSS %d MiB",
			arm.name, a.Bare.RPS, fmtMs(a.Bare.P99), a.HTTP.RPS, fmtMs(a.HTTP.P99), a.HTTP.Errors, a.PeakRSSKiB>>10)
		if arm.name == "on" {
			prof, err := e.profile(s, conc)
			if err != nil {
				s.Close()
				return err
			}
			out.Profile = prof
		}
		if err := s.Close(); err != nil {
			return err
		}
		out.Arms = append(out.Arms, a)
	}

	// The same saturated load on the service with go-zero's load shedding
	// as shipped (every other run of the bench has it off).
	s, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: e.defaults, CpuThreshold: e.rep.CpuThreshold})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := e.http(s, conc, *warmup, e.randomArgs(99)); err != nil {
		return err
	}
	var sr []bench.Result
	for i := range *runs {
		r, err := e.http(s, conc, *duration, e.randomArgs(i))
		if err != nil {
			return err
		}
		sr = append(sr, r)
	}
	out.Shedding = bench.Summarize(sr)
	logf("  shedding as shipped (CpuThreshold %d): %.0f/s answered, %d requests refused", e.rep.CpuThreshold, out.Shedding.RPS, out.Shedding.Errors)
	e.rep.S2 = out
	return nil
}

// profile takes a CPU profile of the process during one extra (unmeasured)
// saturated HTTP run and summarises it with `go tool pprof`.
func (e *env) profile(s *bench.Service, conc int) (*Profile, error) {
	path := filepath.Join(*artifactsDir, "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	r, err := e.http(s, conc, *duration, e.randomArgs(50))
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		return nil, err
	}
	p := &Profile{Path: path, Requests: r.Requests, RPS: r.RPS}
	top := func(args ...string) (string, error) {
		out, err := exec.Command("go", append([]string{"tool", "pprof", "-top"}, append(args, path)...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w: %s", err, out)
		}
		return string(out), nil
	}
	if p.Flat, err = top("-nodecount=25"); err != nil {
		return nil, err
	}
	if p.Cum, err = top("-cum", "-nodecount=400"); err != nil {
		return nil, err
	}
	return p, nil
}

// ---- scenario 3: pool sizing ----

func (e *env) scenario3() error {
	logf("scenario 3: the service's pool defaults vs go-zero's built-in pool")
	def, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: e.defaults, Coalesce: e.base.Coalesce})
	if err != nil {
		return err
	}
	defer def.Close()
	gz, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: bench.GoZeroPool, Coalesce: e.base.Coalesce})
	if err != nil {
		return err
	}
	defer gz.Close()
	out := &S3{}
	for _, c := range s3Levels {
		out.Commands = append(out.Commands, e.wrk.Command(c, *duration, e.randomArgs(0)...))
		for _, s := range []*bench.Service{def, gz} {
			if _, err := e.http(s, c, *warmup, e.randomArgs(99)); err != nil {
				return err
			}
		}
		var dr, gr []bench.Result
		for i := range *runs {
			r, err := e.http(def, c, *duration, e.randomArgs(i))
			if err != nil {
				return err
			}
			dr = append(dr, r)
			r, err = e.http(gz, c, *duration, e.randomArgs(i))
			if err != nil {
				return err
			}
			gr = append(gr, r)
		}
		l := S3Level{Clients: c, Defaults: bench.Summarize(dr), GoZero: bench.Summarize(gr)}
		logf("  %3d clients: defaults %.0f/s p99 %s waits %d | go-zero pool %.0f/s p99 %s waits %d", c,
			l.Defaults.RPS, fmtMs(l.Defaults.P99), l.Defaults.WaitCount, l.GoZero.RPS, fmtMs(l.GoZero.P99), l.GoZero.WaitCount)
		out.Levels = append(out.Levels, l)
	}
	e.rep.S3 = out
	return nil
}

// ---- scenario 4: one hot project, coalescing on vs off ----

func (e *env) scenario4() error {
	id, sites, reports, err := e.data.HotProject()
	if err != nil {
		return err
	}
	logf("scenario 4: hot project %d (%d sites, %d reports), %d clients, coalescing on vs off", id, sites, reports, s4Clients)
	on, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: e.defaults, Coalesce: true})
	if err != nil {
		return err
	}
	defer on.Close()
	off, err := bench.StartService(e.base, bench.Options{DSN: e.dsn, Pool: e.defaults, Coalesce: false})
	if err != nil {
		return err
	}
	defer off.Close()
	args := []string{"hot", strconv.Itoa(id), strconv.Itoa(reportsParam)}
	out := &S4{ID: id, Sites: sites, Reports: reports, Clients: s4Clients, Command: e.wrk.Command(s4Clients, *duration, args...)}
	for _, s := range []*bench.Service{on, off} {
		if _, err := e.http(s, s4Clients, *warmup, args); err != nil {
			return err
		}
	}
	var onr, offr []bench.Result
	for range *runs {
		r, err := e.http(on, s4Clients, *duration, args)
		if err != nil {
			return err
		}
		onr = append(onr, r)
		r, err = e.http(off, s4Clients, *duration, args)
		if err != nil {
			return err
		}
		offr = append(offr, r)
	}
	out.On, out.Off = bench.Summarize(onr), bench.Summarize(offr)
	logf("  coalescing on %.0f/s p99 %s | off %.0f/s p99 %s", out.On.RPS, fmtMs(out.On.P99), out.Off.RPS, fmtMs(out.Off.P99))
	e.rep.S4 = out
	return nil
}

// ---- scenario 5: cost per request (Go benchmark over fakes) ----

func (e *env) scenario5() error {
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkGetProject$", "-benchmem", "-count", strconv.Itoa(max(*runs, 3)), "./internal/tools/bench/"}
	logf("scenario 5: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(e.ctx, "go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test: %w\n%s", err, out)
	}
	s5, err := parseGoBench(string(out))
	if err != nil {
		return err
	}
	s5.Command = "go " + strings.Join(args, " ")
	logf("  %.0f ns/op, %.0f B/op, %.0f allocs/op", s5.NsOp, s5.BytesOp, s5.AllocsOp)
	e.rep.S5 = s5
	return nil
}

func parseGoBench(out string) (*S5, error) {
	var ns, b, allocs []float64
	s := &S5{Raw: out}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "BenchmarkGetProject") {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				ns = append(ns, v)
			case "B/op":
				b = append(b, v)
			case "allocs/op":
				allocs = append(allocs, v)
			case "resp-bytes":
				s.RespBytes = v
			}
		}
	}
	if len(ns) == 0 || len(b) == 0 || len(allocs) == 0 {
		return nil, fmt.Errorf("no BenchmarkGetProject results in:\n%s", out)
	}
	s.NsOp, s.BytesOp, s.AllocsOp = bench.Median(ns), bench.Median(b), bench.Median(allocs)
	return s, nil
}

// ---- helpers ----

// dropAccessLines keeps the first lines of the service log's warnings,
// errors, slow and stat lines and drops its info lines (one access line per
// request: hundreds of MiB per bench run).
func dropAccessLines(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	const keep = 20000 // other lines kept; the shedding run logs three per refused request
	var dropped, over, kept int64
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.Contains(line, []byte(`"level":"info"`)):
			dropped++
		case kept >= keep:
			over++
		default:
			kept++
			w.Write(line)
			w.WriteByte('\n')
		}
	}
	fmt.Fprintf(w, "bench: after the run, %d info lines (access log) and %d lines beyond the first %d others were dropped from this file\n", dropped, over, keep)
	if err := errors.Join(sc.Err(), w.Flush(), out.Close()); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above", dir)
		}
	}
}
