//go:build soak

package soak_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/types"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.After(dbtest.Main(m)))
}

// The data set and the load.
const (
	numProjects     = 200
	numInstitutions = 50
	maxSites        = 10  // per project, 0..maxSites
	maxReports      = 30  // per project, 0..maxReports
	maxID           = 220 // requested ids are 1..maxID: 201..220 do not exist
	maxReportsParam = 20  // requested reports are 1..maxReportsParam

	clients        = 8
	requestTimeout = time.Second // the service's Timeout
	clientTimeout  = 5 * time.Second
	warmUp         = 2 * time.Second
	loadFor        = 45 * time.Second
	stopAt         = 15 * time.Second // into the load: the database container stops
	resumeAt       = 25 * time.Second // into the load: it is started again
	// The load goes on at least this long after Resume returned, so the
	// "after" phase is never empty even when the database is slow to start.
	minAfterResume = 12 * time.Second
	maxLoad        = 70 * time.Second

	// goroutineSlack: goroutines allowed above the baseline once the load is
	// over, beyond one per open pooled connection (go-sql-driver runs one
	// watcher per connection, and the pool may keep up to MaxIdleConns open).
	// What else may legitimately still be running: the Docker client's
	// keep-alive connections from Stop/Resume (2 goroutines each), go-zero's
	// periodic executors and timers started lazily on the first error logs
	// and breaker/metric use, and an HTTP server connection goroutine still
	// noticing its client went away. A leak of the load's size (per request,
	// per client or per connection) is in the hundreds or thousands.
	goroutineSlack = 10
	// The memory bound once the load is over (after GC + FreeOSMemory).
	rssFactor = 1.5
	rssSlack  = 32 << 20
)

// TestSoak_OutageAndRecovery: 8 clients for ~45 s, the database stopped at
// 15 s and resumed at 25 s. See the package doc for what it checks.
func TestSoak_OutageAndRecovery(t *testing.T) {
	dbsrv := dbtest.Shared(t)
	dsn := dbtest.NewDatabase(t)
	seed := soakSeed(t)
	t.Logf("seed %d (replay with SOAK_SEED=%d)", seed, seed)

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	loaded, err := dataSet(seed).Load(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data set: %d projects, %d institutions, %d sites, %d reports", loaded.Projects, loaded.Institutions, loaded.Sites, loaded.Reports)
	want := expectedRecords(t, db)
	db.Close() // the test's own pool is not part of what is measured

	// The driver logs every connection the outage breaks ("[mysql] ...
	// closing bad idle connection: EOF"): hundreds of expected lines.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	s := startService(t, dsn)
	portBefore := dbsrv.Port()

	// Warm up (pool, caches, lazily started goroutines), then take the
	// baseline the service must return to.
	client := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	t.Cleanup(client.CloseIdleConnections)
	warm := newLoad(s.URL, client, want, seed+1)
	warm.run(context.Background(), time.Now(), warmUp)
	if len(warm.failures) > 0 {
		t.Fatalf("warm-up, database up: %s", strings.Join(warm.failures, "\n"))
	}
	client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	base := takeSnapshot(s)
	t.Logf("baseline: %s", base)

	// The load, and the outage on its timeline.
	l := newLoad(s.URL, client, want, seed+2)
	t0 := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outage := make(chan outageTimes, 1)
	go func() {
		var o outageTimes
		defer func() { outage <- o }()
		time.Sleep(time.Until(t0.Add(stopAt)))
		o.stop = time.Since(t0)
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if o.err = dbsrv.Stop(sctx); o.err != nil {
			return
		}
		o.stopped = time.Since(t0)
		time.Sleep(time.Until(t0.Add(resumeAt)))
		o.resume = time.Since(t0)
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer rcancel()
		if o.err = dbsrv.Resume(rctx); o.err != nil {
			return
		}
		o.resumed = time.Since(t0)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, t0, maxLoad)
	}()
	var o outageTimes
	select {
	case o = <-outage:
	case <-done:
		t.Fatal("the load ended before the outage did")
	}
	if o.err != nil {
		cancel()
		<-done
		t.Fatalf("outage: %v", o.err)
	}
	end := max(loadFor, o.resumed+minAfterResume)
	time.Sleep(time.Until(t0.Add(end)))
	cancel()
	<-done
	t.Logf("timeline: stop called %s, stopped %s, resume called %s, resumed %s, load ended %s (%d requests)",
		o.stop.Round(time.Millisecond), o.stopped.Round(time.Millisecond), o.resume.Round(time.Millisecond),
		o.resumed.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), len(l.records))
	if p := dbsrv.Port(); p != portBefore {
		t.Fatalf("the database came back on port %d instead of %d: the service's DSN cannot follow (harness, not service)", p, portBefore)
	}

	// Hard failures: wrong or partial records, 404 for existing ids, other
	// statuses, malformed error bodies, transport errors.
	for _, f := range l.failures {
		t.Error(f)
	}
	if l.dropped > 0 {
		t.Errorf("... and %d more failures", l.dropped)
	}

	// Recovery: the first 200 after Resume returned.
	recovery := time.Duration(-1)
	for _, r := range l.records {
		if r.status == http.StatusOK && r.end() >= o.resumed && (recovery < 0 || r.end() < recovery) {
			recovery = r.end()
		}
	}
	if recovery < 0 {
		t.Fatalf("no 200 after the database was resumed at %s: the service did not recover", o.resumed.Round(time.Millisecond))
	}
	t.Logf("recovery: first 200 at %s, %s after Resume returned",
		recovery.Round(time.Millisecond), (recovery - o.resumed).Round(time.Millisecond))

	// Errors only between the stop and the recovery: a request may fail if
	// it was still running when the database stopped, or started before the
	// recovery; none that ended before the stop or started after the recovery.
	var outside []string
	lastError := time.Duration(-1)
	for _, r := range l.records {
		if r.status != http.StatusServiceUnavailable && r.status != http.StatusGatewayTimeout {
			continue
		}
		lastError = max(lastError, r.end())
		if r.end() < o.stop || r.start >= recovery {
			outside = append(outside, fmt.Sprintf("%d for /project/%d?reports=%d, started %s, took %s",
				r.status, r.id, r.reports, r.start.Round(time.Millisecond), r.dur.Round(time.Millisecond)))
		}
	}
	if lastError >= 0 {
		t.Logf("last error answered at %s (%s after the first 200 following Resume)",
			lastError.Round(time.Millisecond), (lastError - recovery).Round(time.Millisecond))
	}
	if len(outside) > 0 {
		started := 0
		for _, r := range l.records {
			if r.start >= recovery {
				started++
			}
		}
		t.Errorf("%d errors outside the outage window [stop %s, recovery %s), %d of the %d requests started after the recovery among them; first ones:\n  %s",
			len(outside), o.stop.Round(time.Millisecond), recovery.Round(time.Millisecond), countAfter(l.records, recovery), started,
			strings.Join(outside[:min(len(outside), 10)], "\n  "))
	}

	// The table.
	phases := []phase{
		{name: "before", from: 0, to: o.stop},
		{name: "outage", from: o.stop, to: recovery},
		{name: "after", from: recovery, to: time.Since(t0)},
	}
	for _, r := range l.records {
		for i := range phases {
			if r.start >= phases[i].from && (r.start < phases[i].to || i == len(phases)-1) {
				phases[i].add(r)
				break
			}
		}
	}
	t.Logf("answers by phase (a request belongs to the phase it started in):\n%s", table(phases))
	t.Logf("answers per second from 1 s before the stop (by start time):\n%s", perSecond(l.records, o.stop-time.Second))
	if phases[2].total() == 0 {
		t.Errorf("no request started after the recovery")
	}
	for _, p := range phases {
		if p.max > requestTimeout+2*time.Second {
			t.Errorf("%s: a request took %s; the request deadline is %s", p.name, p.max.Round(time.Millisecond), requestTimeout)
		}
	}

	// After the load: the pool is idle, the goroutines and the memory are
	// back near the baseline.
	l.records = nil
	client.CloseIdleConnections()
	if !servicetest.Eventually(10*time.Second, func() bool { return s.Svc.Store.PrimaryStats().InUse == 0 }) {
		t.Errorf("pool: %d connections still in use after the load", s.Svc.Store.PrimaryStats().InUse)
	}
	var now snapshot
	ok := servicetest.Eventually(15*time.Second, func() bool {
		now = takeSnapshot(s)
		return now.goroutines-now.open <= base.goroutines-base.open+goroutineSlack
	})
	t.Logf("after:    %s", now)
	if !ok {
		t.Errorf("goroutines: %d with %d open connections after the load, baseline %d with %d (allowed: +%d beyond one per open connection)\n%s",
			now.goroutines, now.open, base.goroutines, base.open, goroutineSlack, goroutineDump())
	}
	// Memory: VmRSS after GC + FreeOSMemory. Under -race, RSS mostly measures
	// the race detector (its shadow memory and per-goroutine and per-sync-object
	// state grow with every goroutine and object ever created, live outside
	// the Go heap and are not returned by FreeOSMemory: about +2 KiB per
	// request here), so the bound is then applied to the memory the Go
	// runtime holds (mapped minus released to the OS), and RSS is logged.
	checkMemory := func(what string, base, now int64) {
		limit := int64(rssFactor*float64(base)) + rssSlack
		t.Logf("%s: baseline %.1f MiB, after %.1f MiB, limit %.1f MiB", what, mib(base), mib(now), mib(limit))
		if now > limit {
			t.Errorf("%s %.1f MiB after the load exceeds %.1f x baseline %.1f MiB + %.0f MiB", what, mib(now), rssFactor, mib(base), mib(rssSlack))
		}
	}
	if raceEnabled() {
		t.Logf("RSS: baseline %.1f MiB, after %.1f MiB (not bounded under -race: see the comment)", mib(base.rss), mib(now.rss))
		checkMemory("Go runtime memory", base.goMem, now.goMem)
	} else {
		checkMemory("RSS", base.rss, now.rss)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// countAfter counts the errors among requests started at or after from.
func countAfter(records []result, from time.Duration) int {
	n := 0
	for _, r := range records {
		if r.start >= from && r.status != http.StatusOK && r.status != http.StatusNotFound {
			n++
		}
	}
	return n
}

type outageTimes struct {
	stop, stopped, resume, resumed time.Duration // since t0
	err                            error
}

func soakSeed(t *testing.T) uint64 {
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", v, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// ---- the service ----

// startService runs the real server (server.New over a real pool) on a
// loopback port, as internal/integration does, with a 1 s request timeout.
//
// Load shedding is off (CpuThreshold 0): go-zero sheds on the CPU usage of
// the whole machine, and on a shared 2-core box that is high whatever this
// test does; its 503s would say nothing about the outage and recovery this
// test is about. Everything else — the database breaker, timeout, max
// conns, the error guard, coalescing, server-side deadlines, the pool
// defaults — is as deployed (internal/testing/servicetest).
func startService(t *testing.T, dsn string) *servicetest.Service {
	t.Helper()
	return servicetest.Start(t, servicetest.Config(t, dsn, servicetest.Timeout(requestTimeout), "CpuThreshold: 0"))
}

// ---- the data set ----

// dataSet is the soak's data set (internal/testing/dataset): numProjects
// projects (ids 1..numProjects), numInstitutions institutions (a third
// registered under an earlier one's name, so the id tie-break of the site
// order matters), 0..maxSites sites and 0..maxReports reports per project
// with nullable fields sometimes NULL. Report created_at values are
// distinct and the ids are given project by project, so newest-first is
// not id order.
func dataSet(seed uint64) dataset.Spec {
	return dataset.Spec{
		Seed: seed, Projects: numProjects, Institutions: numInstitutions,
		MinSites: 0, MaxSites: maxSites, MinReports: 0, MaxReports: maxReports,
		SummaryNullPercent: 33, SharedNamePercent: 33, ReportIDsByProject: true,
	}
}

// record is what the database says the answer for one id must be.
type record struct {
	code    string
	sites   []uint64 // institution ids by name, then id
	reports []uint64 // report ids newest first (created_at, then id, descending)
}

// expectedRecords reads, with SQL of its own, the record of every existing
// project: the oracle the service's answers are checked against.
func expectedRecords(t *testing.T, db *sql.DB) map[int]*record {
	t.Helper()
	want := map[int]*record{}
	scan := func(q string, each func(id int, v string)) {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			each(id, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	id := func(v string) uint64 {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	scan("SELECT id, code FROM project", func(p int, code string) { want[p] = &record{code: code} })
	scan("SELECT pi.project_id, i.id FROM project_institution pi JOIN institution i ON i.id = pi.institution_id"+
		" ORDER BY pi.project_id, i.name, i.id", func(p int, v string) { want[p].sites = append(want[p].sites, id(v)) })
	scan("SELECT project_id, id FROM project_report ORDER BY project_id, created_at DESC, id DESC",
		func(p int, v string) { want[p].reports = append(want[p].reports, id(v)) })
	if len(want) != numProjects {
		t.Fatalf("%d projects in the database, want %d", len(want), numProjects)
	}
	return want
}

// ---- the load ----

type load struct {
	url    string
	client *http.Client
	want   map[int]*record
	seed   uint64

	mu       sync.Mutex
	records  []result
	failures []string // hard failures, the first maxFailures
	dropped  int
}

const maxFailures = 20

// result is one request: when it started (since t0), how long it took.
type result struct {
	start, dur time.Duration
	status     int
	id         int
	reports    int
}

func (r result) end() time.Duration { return r.start + r.dur }

func newLoad(url string, client *http.Client, want map[int]*record, seed uint64) *load {
	return &load{url: url, client: client, want: want, seed: seed}
}

// run runs the clients until ctx is done or for at most d.
func (l *load) run(ctx context.Context, t0 time.Time, d time.Duration) {
	ctx, cancel := context.WithDeadline(ctx, time.Now().Add(d))
	defer cancel()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(l.seed, uint64(c)))
			var mine []result
			for ctx.Err() == nil {
				mine = append(mine, l.one(t0, 1+rng.IntN(maxID), 1+rng.IntN(maxReportsParam)))
			}
			l.mu.Lock()
			l.records = append(l.records, mine...)
			l.mu.Unlock()
		}()
	}
	wg.Wait()
}

// one issues one request and checks its answer; a request is never
// cancelled by the end of the load (it runs to its answer).
func (l *load) one(t0 time.Time, id, reports int) result {
	target := fmt.Sprintf("%s/project/%d?reports=%d", l.url, id, reports)
	start := time.Now()
	res, err := l.client.Get(target)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	r := result{start: start.Sub(t0), dur: time.Since(start), id: id, reports: reports}
	if err != nil {
		l.fail("GET %s: no answer after %s: %v", target, r.dur.Round(time.Millisecond), err)
		return r
	}
	r.status = res.StatusCode
	if problem := l.check(id, reports, res, body); problem != "" {
		l.fail("GET /project/%d?reports=%d at %s: %d: %s; body: %.300s", id, reports, r.start.Round(time.Millisecond), r.status, problem, body)
	}
	return r
}

// check returns what is wrong with an answer, regardless of when it came.
func (l *load) check(id, reports int, res *http.Response, body []byte) string {
	want := l.want[id]
	switch res.StatusCode {
	case http.StatusOK:
		if want == nil {
			return "200 for a project that does not exist"
		}
		return checkRecord(id, reports, want, body)
	case http.StatusNotFound:
		if want != nil {
			return "404 for a project that exists"
		}
		return checkError(body, "not_found")
	case http.StatusServiceUnavailable:
		if res.Header.Get("Retry-After") == "" {
			return "503 without Retry-After"
		}
		return checkError(body, "unavailable")
	case http.StatusGatewayTimeout:
		return checkError(body, "timeout")
	default:
		return "status outside {200, 404, 503, 504}"
	}
}

func checkRecord(id, reports int, want *record, body []byte) string {
	for _, list := range []string{`"institutions":[`, `"reports":[`} {
		if !bytes.Contains(body, []byte(list)) {
			return "a list is not a JSON array"
		}
	}
	var got types.ProjectDetailsResp
	if err := json.Unmarshal(body, &got); err != nil {
		return "not a record: " + err.Error()
	}
	if got.Project.Id != uint64(id) || got.Project.Code != want.code {
		return fmt.Sprintf("project %d %q, want %d %q", got.Project.Id, got.Project.Code, id, want.code)
	}
	var sites, reps []uint64
	for _, s := range got.Institutions {
		sites = append(sites, s.Id)
	}
	for _, r := range got.Reports {
		reps = append(reps, r.Id)
	}
	if !slices.Equal(sites, want.sites) {
		return fmt.Sprintf("institutions %v, want %v", sites, want.sites)
	}
	if wantReps := want.reports[:min(reports, len(want.reports))]; !slices.Equal(reps, wantReps) {
		return fmt.Sprintf("reports %v, want %v", reps, wantReps)
	}
	return ""
}

func checkError(body []byte, code string) string {
	got, _, err := servicetest.DecodeErrorBody(string(body))
	switch {
	case err != nil:
		return err.Error()
	case got != code:
		return fmt.Sprintf("code %q, want %q", got, code)
	}
	return ""
}

func (l *load) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < maxFailures {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	} else {
		l.dropped++
	}
}

// ---- phases and the table ----

type phase struct {
	name     string
	from, to time.Duration
	byStatus map[int]int
	durs     []time.Duration
	max      time.Duration
}

func (p *phase) add(r result) {
	if p.byStatus == nil {
		p.byStatus = map[int]int{}
	}
	p.byStatus[r.status]++
	p.durs = append(p.durs, r.dur)
	p.max = max(p.max, r.dur)
}

func (p *phase) total() int { return len(p.durs) }

func table(phases []phase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-7s %-17s %7s %7s %6s %6s %6s %6s %9s %9s %9s\n",
		"phase", "window (s)", "total", "200", "404", "503", "504", "other", "p50", "p99", "max")
	for _, p := range phases {
		lat := loadstat.Summarize(p.durs)
		other := p.total() - p.byStatus[200] - p.byStatus[404] - p.byStatus[503] - p.byStatus[504]
		fmt.Fprintf(&b, "  %-7s %-17s %7d %7d %6d %6d %6d %6d %9s %9s %9s\n", p.name,
			fmt.Sprintf("%.1f-%.1f", p.from.Seconds(), p.to.Seconds()), p.total(),
			p.byStatus[200], p.byStatus[404], p.byStatus[503], p.byStatus[504], other,
			ms(lat.P50), ms(lat.P99), ms(lat.Max))
	}
	return b.String()
}

// perSecond counts answers (ok: 200/404, err: anything else) per second of start time, from from on.
func perSecond(records []result, from time.Duration) string {
	type counts struct{ ok, err int }
	var secs []counts
	for _, r := range records {
		if r.start < from {
			continue
		}
		i := int((r.start - from) / time.Second)
		for len(secs) <= i {
			secs = append(secs, counts{})
		}
		if r.status == http.StatusOK || r.status == http.StatusNotFound {
			secs[i].ok++
		} else {
			secs[i].err++
		}
	}
	var b strings.Builder
	for i, c := range secs {
		fmt.Fprintf(&b, "  %3ds ok %5d err %5d\n", int((from+time.Duration(i)*time.Second)/time.Second), c.ok, c.err)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// ---- process state ----

type snapshot struct {
	goroutines int
	open       int   // open pooled connections (each has a driver watcher goroutine)
	rss        int64 // VmRSS
	goMem      int64 // memory the Go runtime has mapped and not released
}

func (s snapshot) String() string {
	return fmt.Sprintf("%d goroutines, %d open connections, RSS %.1f MiB, Go runtime memory %.1f MiB",
		s.goroutines, s.open, mib(s.rss), mib(s.goMem))
}

func takeSnapshot(s *servicetest.Service) snapshot {
	runtime.GC()
	debug.FreeOSMemory()
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	rss, _ := loadstat.RSS(0)
	return snapshot{goroutines: runtime.NumGoroutine(), open: s.Svc.Store.PrimaryStats().OpenConnections, rss: rss,
		goMem: int64(m[0].Value.Uint64() - m[1].Value.Uint64())}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
