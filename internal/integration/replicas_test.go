package integration

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/replicatest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// The replica scenarios run against a real replicated cluster (a primary
// and two replicas, GTID replication, internal/testing/replicatest) under
// load from several clients, and assert on status codes, on where reads
// went (each server's Com_select) and on what the answers held — never on
// sleeps alone.

// replicatedService runs the service as the least-privilege user against
// the cluster's primary and replicas, with the given overrides.
func replicatedService(t *testing.T, c *replicatest.Cluster, overrides ...string) *servicetest.Service {
	t.Helper()
	s, _ := replicatedServiceAs(t, c, overrides...)
	return s
}

// replicatedServiceAs is replicatedService, also returning the service
// user's account ('name'@'%'), for GRANT and REVOKE.
func replicatedServiceAs(t *testing.T, c *replicatest.Cluster, overrides ...string) (*servicetest.Service, string) {
	t.Helper()
	primary, replicas := c.ServiceUserDSNs(t)
	cfg, err := mysql.ParseDSN(primary)
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("Mysql: {Replicas: [%q, %q]}", replicas[0], replicas[1])
	s := servicetest.Start(t, servicetest.Config(t, primary, append([]string{yaml, "CpuThreshold: 0"}, overrides...)...))
	if !servicetest.Eventually(10*time.Second, func() bool { return s.Svc.Store.ReplicaHealthy(0) && s.Svc.Store.ReplicaHealthy(1) }) {
		t.Fatal("the replicas did not enter rotation within 10 s")
	}
	return s, fmt.Sprintf("'%s'@'%%'", cfg.User)
}

// loadResult is what a load run saw.
type loadResult struct {
	mu       sync.Mutex
	statuses map[int]int
	bodies   []string // of the 200s, when kept

	// pause, held, holds the clients between requests: a window of
	// readCounter takes its counts with no request in flight.
	pause sync.RWMutex
}

func (r *loadResult) failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for status, count := range r.statuses {
		if status != http.StatusOK {
			n += count
		}
	}
	return n
}

// counts are the 200s and the other answers so far.
func (r *loadResult) counts() (ok, failed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for status, count := range r.statuses {
		if status == http.StatusOK {
			ok += count
		} else {
			failed += count
		}
	}
	return ok, failed
}

func (r *loadResult) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.statuses)
}

// load runs clients that GET path() in a loop until stop is closed.
func load(t *testing.T, s *servicetest.Service, clients int, path func(*rand.Rand) string, keepBodies bool, stop <-chan struct{}) (*loadResult, *sync.WaitGroup) {
	t.Helper()
	res := &loadResult{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for {
				select {
				case <-stop:
					return
				default:
				}
				res.pause.RLock()
				r := servicetest.Get(t, s.URL+path(rng))
				res.mu.Lock()
				res.statuses[r.Status]++
				if keepBodies && r.Status == http.StatusOK {
					res.bodies = append(res.bodies, r.Body)
				}
				res.mu.Unlock()
				res.pause.RUnlock()
			}
		})
	}
	return res, &wg
}

func anyProject(rng *rand.Rand) string { return fmt.Sprintf("/project/%d", 1+rng.IntN(3)) }

// clients is how many clients a load runs.
const clients = 4

// selects is each server's Com_select now.
func selects(t *testing.T, c *replicatest.Cluster) [3]int64 {
	return [3]int64{c.SelectCount(t, replicatest.Primary), c.SelectCount(t, replicatest.Replica(0)), c.SelectCount(t, replicatest.Replica(1))}
}

// The store's watch intervals. Every timing bound below is derived from them.
const (
	heartbeatEvery = store.HeartbeatEvery // the heartbeat row is written this often
	checkEvery     = store.CheckEvery     // each replica is pinged and its lag read this often,
	checkTimeout   = store.CheckTimeout   // a check waiting at most this long
	// boundMargin is the fixed part of every bound: scheduling, a beat's
	// own write and its replication, the 10 ms poll of waitFor.
	boundMargin = 300 * time.Millisecond
)

// bound is how long after a fault's calls began its effect may take to
// show: what the service promises (contract, from the intervals above),
// plus the measured time of the calls that injected the fault — a docker
// call, the cluster's SQL: the fault takes effect somewhere within them —
// plus boundMargin. Only the contract is a promise; the rest is measured
// or fixed, and the failure message gives all three.
type bound struct {
	contract time.Duration
	why      string
	calls    time.Duration
}

func (b bound) total() time.Duration { return b.contract + b.calls + boundMargin }

func (b bound) String() string {
	return fmt.Sprintf("%s = contract %s (%s) + the fault's calls %s (measured) + margin %s",
		b.total().Round(time.Millisecond), b.contract, b.why, b.calls.Round(time.Millisecond), boundMargin)
}

// outWhenSilent: a replica that stops answering leaves rotation within
// about two checks.
func outWhenSilent(calls time.Duration) bound {
	return bound{2*checkEvery + checkTimeout, "two checks, the second's ping waiting at most checkTimeout: 2×checkEvery + checkTimeout", calls}
}

// backWhenCurrent: a replica that answers and has applied everything is
// back at the next check.
func backWhenCurrent(calls time.Duration) bound {
	return bound{checkEvery + checkTimeout, "the next check, at most checkTimeout long: checkEvery + checkTimeout", calls}
}

// outForLag: a replica that stops applying leaves rotation once the first
// beat it lacks is MaxReplicaLag old.
func outForLag(maxLag, calls time.Duration) bound {
	return bound{heartbeatEvery + maxLag + checkEvery + checkTimeout,
		"the first beat it lacks is sent within heartbeatEvery, is MaxReplicaLag old that much later, and the next check sees it: heartbeatEvery + MaxReplicaLag + checkEvery + checkTimeout", calls}
}

// inject runs the calls that inject (or heal) a fault; it returns when
// they began and how long they took.
func inject(calls ...func()) (began time.Time, took time.Duration) {
	began = time.Now()
	for _, call := range calls {
		call()
	}
	return began, time.Since(began)
}

// waitFor waits until cond holds, at most b after since (when the fault's
// calls began), and returns how long after since it held.
func waitFor(t *testing.T, since time.Time, b bound, what string, cond func() bool) time.Duration {
	t.Helper()
	if !servicetest.Eventually(time.Until(since.Add(b.total())), cond) {
		t.Fatalf("%s: not within %s after the fault began; bound %s", what, time.Since(since).Round(time.Millisecond), b)
	}
	return time.Since(since)
}

// Where reads went, by each server's Com_select. A request's reads are
// SELECTs on one server; the health checker also reads each replica it
// reaches (the heartbeat row, every checkEvery; its pings are no SELECTs).
// So a readCounter first measures, with no request running, the SELECTs
// each server runs per second on its own (the checker's), and what one
// answered 200 costs (with Coalesce off, so that no answer shares
// another's reads); a window of load then credits each server with its
// Com_select delta less the checker's rate times the window, and checks
// that the servers counted ran every answer's reads — so that a server not
// counted (a killed one, whose counter cannot be read) ran none.
type readCounter struct {
	c         *replicatest.Cluster
	rates     map[replicatest.Node]float64 // the checker's SELECTs per second
	perAnswer int                          // a 200's SELECTs
}

// servers are the cluster's, in the order of the service's names.
var servers = []replicatest.Node{replicatest.Primary, replicatest.Replica(0), replicatest.Replica(1)}

func serverName(n replicatest.Node) string {
	if n == replicatest.Primary {
		return "primary"
	}
	return fmt.Sprintf("replica-%d", int(n)+1)
}

// minAnswers: a window with fewer 200s proves nothing about where reads go.
const minAnswers = 200

// checkerSlack is how far a server's SELECTs in a window may be from the
// checker's rate times the window with no request read among them: one
// check either side of the window, and the rate's measurement error.
const checkerSlack = 4

// countSelects is the Com_select of each of nodes, and when it was read.
func countSelects(t *testing.T, c *replicatest.Cluster, nodes []replicatest.Node) (map[replicatest.Node]int64, time.Time) {
	t.Helper()
	at := time.Now()
	counts := map[replicatest.Node]int64{}
	for _, n := range nodes {
		counts[n] = c.SelectCount(t, n)
	}
	return counts, at
}

// newReadCounter measures the checker's rates and a 200's cost on s,
// which must have no other request running and Coalesce off.
func newReadCounter(t *testing.T, c *replicatest.Cluster, s *servicetest.Service) *readCounter {
	t.Helper()
	rc := &readCounter{c: c, rates: map[replicatest.Node]float64{}}
	const idle = 3 * time.Second
	before, from := countSelects(t, c, servers)
	time.Sleep(idle)
	after, to := countSelects(t, c, servers)
	for _, n := range servers {
		rc.rates[n] = float64(after[n]-before[n]) / to.Sub(from).Seconds()
	}
	const answers = 30
	before, from = countSelects(t, c, servers)
	for i := range answers {
		if r := servicetest.Get(t, fmt.Sprintf("%s/project/%d", s.URL, 1+i%3)); r.Status != http.StatusOK {
			t.Fatalf("calibration: %d %s", r.Status, r.Body)
		}
	}
	after, to = countSelects(t, c, servers)
	var reads float64
	for _, n := range servers {
		reads += float64(after[n]-before[n]) - rc.rates[n]*to.Sub(from).Seconds()
	}
	per := reads / answers
	rc.perAnswer = int(math.Round(per))
	if rc.perAnswer < 1 || math.Abs(per-float64(rc.perAnswer)) > 0.25 {
		t.Fatalf("cannot account reads: %d answers ran %.1f SELECTs beyond the checker's (%s)", answers, reads, rc.ratesString())
	}
	t.Logf("the health checker alone runs %s (no request running, %s; every checkEvery = %s would be %.1f/s per replica); a 200 costs %d SELECTs (%.2f measured over %d)",
		rc.ratesString(), idle, checkEvery, float64(time.Second)/float64(checkEvery), rc.perAnswer, per, answers)
	return rc
}

func (rc *readCounter) ratesString() string {
	var parts []string
	for _, n := range servers {
		parts = append(parts, fmt.Sprintf("%s %.2f/s", serverName(n), rc.rates[n]))
	}
	return strings.Join(parts, ", ")
}

// traffic is what one window of load saw.
type traffic struct {
	elapsed    time.Duration
	ok, failed int
	delta      map[replicatest.Node]int64   // Com_select
	reads      map[replicatest.Node]float64 // delta less the checker's: the requests'
	counted    []replicatest.Node
}

func (w traffic) String() string {
	parts := []string{fmt.Sprintf("%s: %d 200s, %d other", w.elapsed.Round(time.Millisecond), w.ok, w.failed)}
	for _, n := range w.counted {
		parts = append(parts, fmt.Sprintf("%s %d SELECTs (%.1f the requests')", serverName(n), w.delta[n], w.reads[n]))
	}
	return strings.Join(parts, "; ")
}

// window counts, over at least d of the load res is running and until it
// has minAnswers 200s (at most windowMax), the answers and the SELECTs of
// each of counted. The load is paused while the counters are read, so that
// every answer counted ran its reads within the window and every request
// read in the window is an answer counted.
func (rc *readCounter) window(t *testing.T, res *loadResult, counted []replicatest.Node, d time.Duration) traffic {
	t.Helper()
	const windowMax = 15 * time.Second
	res.pause.Lock()
	ok0, failed0 := res.counts()
	before, from := countSelects(t, rc.c, counted)
	res.pause.Unlock()
	time.Sleep(d)
	for ok, _ := res.counts(); ok-ok0 < minAnswers && time.Since(from) < windowMax; ok, _ = res.counts() {
		time.Sleep(50 * time.Millisecond)
	}
	res.pause.Lock()
	after, to := countSelects(t, rc.c, counted)
	ok1, failed1 := res.counts()
	res.pause.Unlock()
	w := traffic{elapsed: to.Sub(from), ok: ok1 - ok0, failed: failed1 - failed0, counted: counted,
		delta: map[replicatest.Node]int64{}, reads: map[replicatest.Node]float64{}}
	for _, n := range counted {
		w.delta[n] = after[n] - before[n]
		// At least 0: the checker's reads do not reach a cut-off server.
		w.reads[n] = max(float64(w.delta[n])-rc.rates[n]*w.elapsed.Seconds(), 0)
	}
	return w
}

// expect checks a window: at least minAnswers 200s and nothing else; the
// servers counted ran every answer's reads (give or take the checker's
// count and a retried read); each server of none ran no request's read;
// each replica of share ran about 1/len(share) of them.
func (rc *readCounter) expect(t *testing.T, what string, w traffic, none, share []replicatest.Node) {
	t.Helper()
	t.Logf("%s: %s", what, w)
	if w.ok < minAnswers || w.failed != 0 {
		t.Fatalf("%s: want at least %d 200s and no other answer in the window: %s", what, minAnswers, w)
	}
	want := float64(rc.perAnswer * w.ok)
	var got float64
	for _, n := range w.counted {
		got += w.reads[n]
	}
	slack := float64(checkerSlack*len(w.counted) + 2*rc.perAnswer)
	if math.Abs(got-want) > slack {
		t.Errorf("%s: the servers counted ran %.0f request SELECTs, want %.0f (%d answers × %d) ± %.0f: reads went elsewhere; %s",
			what, got, want, w.ok, rc.perAnswer, slack, w)
	}
	for _, n := range none {
		if w.reads[n] > checkerSlack {
			t.Errorf("%s: %s ran %.0f request SELECTs (%d in all, the checker's %.1f/s aside), want none; %s",
				what, serverName(n), w.reads[n], w.delta[n], rc.rates[n], w)
		}
	}
	for _, n := range share {
		if frac, fair := w.reads[n]/want, 1/float64(len(share)); math.Abs(frac-fair) > 0.1 {
			t.Errorf("%s: %s ran %.0f%% of the request SELECTs, want %.0f%% ± 10 (1/%d replicas in rotation); %s",
				what, serverName(n), 100*frac, 100*fair, len(share), w)
		}
	}
}

func TestReplicas_RoutingLagAndOneServerPerRecord(t *testing.T) {
	c := replicatest.Start(t, 2, "sql/schema.sql", "sql/seed.sql")
	admin := dbtest.Open(t, c.AdminDSN(replicatest.Primary))

	t.Run("healthyReadsSpreadOverTheReplicasAndThePrimaryTakesNone", func(t *testing.T) {
		s := replicatedService(t, c)
		for range 20 { // warm: every pool connected, flavours detected
			servicetest.Get(t, s.URL+"/project/1")
		}
		before := selects(t, c)
		stop := make(chan struct{})
		res, wg := load(t, s, clients, anyProject, false, stop)
		time.Sleep(3 * time.Second)
		close(stop)
		wg.Wait()
		after := selects(t, c)
		onPrimary, onR1, onR2 := after[0]-before[0], after[1]-before[1], after[2]-before[2]
		t.Logf("Com_select deltas: primary %d, replica-1 %d, replica-2 %d; answers %v", onPrimary, onR1, onR2, res)
		if res.failed() != 0 {
			t.Fatalf("failed requests with healthy replicas: %v", res)
		}
		if onPrimary != 0 {
			t.Errorf("the primary ran %d SELECTs; with healthy replicas it takes no reads", onPrimary)
		}
		if total := onR1 + onR2; onR1 < total/4 || onR2 < total/4 {
			t.Errorf("reads not spread over both replicas: %d and %d", onR1, onR2)
		}
	})

	t.Run("auditRowsGoToThePrimary", func(t *testing.T) {
		iss := oidctest.Start(t, trialOffice)
		s := replicatedService(t, c, servicetest.Issuer(iss.URL))
		h := http.Header{"Authorization": {"Bearer " + iss.MustToken(t, trialOffice.ID, trialOffice.Secret, auth.ScopeReadAll)}}
		var before int
		if err := admin.QueryRow("SELECT COUNT(*) FROM access_audit").Scan(&before); err != nil {
			t.Fatal(err)
		}
		primarySelects := c.SelectCount(t, replicatest.Primary)
		for range 20 {
			if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h); res.Status != http.StatusOK {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
		}
		var after int
		if err := admin.QueryRow("SELECT COUNT(*) FROM access_audit").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if after-before != 20 {
			t.Fatalf("%d audit rows on the primary for 20 reads, want 20", after-before)
		}
		if got := c.SelectCount(t, replicatest.Primary) - primarySelects; got > 1 { // our COUNT(*) above
			t.Fatalf("the primary ran %d SELECTs: the reads went there, not to the replicas", got)
		}
	})

	t.Run("aRecordIsNeverAssembledFromTwoServers", func(t *testing.T) {
		// replica-1 stops applying; the primary (and replica-2) then get a
		// new title for project 1 and a newer report. Every answer must be
		// one server's: the old title with the old reports, or the new
		// title with the new report first — never a mix.
		s := replicatedService(t, c, "Mysql: {MaxReplicaLag: 1h}")
		c.StopReplication(t, replicatest.Replica(0))
		defer c.StartReplication(t, replicatest.Replica(0))
		if _, err := admin.Exec("UPDATE project SET title = 'Title v2' WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("INSERT INTO project_report (project_id, title, report_type, created_at) VALUES (1, 'Report v2', 'safety', UTC_TIMESTAMP())"); err != nil {
			t.Fatal(err)
		}
		c.WaitReplicated(t, replicatest.Replica(1))
		stop := make(chan struct{})
		res, wg := load(t, s, clients, func(*rand.Rand) string { return "/project/1?reports=1" }, true, stop)
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		var old, updated int
		for _, b := range res.bodies {
			newTitle, newReport := strings.Contains(b, `"title":"Title v2"`), strings.Contains(b, `"title":"Report v2"`)
			switch {
			case newTitle && newReport:
				updated++
			case !newTitle && !newReport:
				old++
			default:
				t.Fatalf("a record assembled from two servers (new title %v, new report %v): %s", newTitle, newReport, b)
			}
		}
		t.Logf("answers: %d from the lagging replica's view, %d from the up-to-date one's; %v", old, updated, res)
		if old == 0 || updated == 0 || res.failed() != 0 {
			t.Fatalf("want answers from both views and no failure: old %d, new %d, %v", old, updated, res)
		}
	})

	t.Run("aLaggingReplicaLeavesRotationAndNoStaleRecordIsServedPastTheBound", func(t *testing.T) {
		const maxLag = 2 * time.Second
		s := replicatedService(t, c, fmt.Sprintf("Mysql: {MaxReplicaLag: %s}", maxLag), "Coalesce: false")
		rc := newReadCounter(t, c, s)
		stopped, took := inject(func() { c.StopReplication(t, replicatest.Replica(0)) })
		restarted := false
		defer func() {
			if !restarted {
				c.StartReplication(t, replicatest.Replica(0))
			}
		}()
		if _, err := admin.Exec("INSERT INTO project_report (project_id, title, report_type, created_at) VALUES (2, 'Newest report', 'safety', UTC_TIMESTAMP() + INTERVAL 1 DAY)"); err != nil {
			t.Fatal(err)
		}
		c.WaitReplicated(t, replicatest.Replica(1))
		b := outForLag(maxLag, took)
		ejected := waitFor(t, stopped, b, "the lagging replica-1 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(0) })
		t.Logf("replica-1 ejected %s after its applier was stopped (bound %s)", ejected.Round(time.Millisecond), b)
		if !s.Svc.Store.ReplicaHealthy(1) {
			t.Fatal("the up-to-date replica-2 left rotation too")
		}
		stop := make(chan struct{})
		res, wg := load(t, s, clients, func(*rand.Rand) string { return "/project/2?reports=1" }, true, stop)
		stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopLoad()
		// Still answering its checks, replica-1 runs no request's read.
		rc.expect(t, "replica-1 lagging", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary, replicatest.Replica(0)}, []replicatest.Node{replicatest.Replica(1)})

		caughtUp, took := inject(
			func() { c.StartReplication(t, replicatest.Replica(0)) },
			func() { c.WaitReplicated(t, replicatest.Replica(0)) })
		restarted = true
		b = backWhenCurrent(took)
		back := waitFor(t, caughtUp, b, "replica-1 back in rotation once caught up", func() bool { return s.Svc.Store.ReplicaHealthy(0) })
		t.Logf("replica-1 back %s after its applier was started (bound %s)", back.Round(time.Millisecond), b)
		rc.expect(t, "replica-1 caught up", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary}, []replicatest.Node{replicatest.Replica(0), replicatest.Replica(1)})
		stopLoad()
		// Every 200 came after the ejection: from replica-2, or from
		// replica-1 once it had caught up.
		for _, b := range res.bodies {
			if !strings.Contains(b, "Newest report") {
				t.Fatalf("a 200 past the lag bound misses the newest report (read from the lagging replica): %s", b)
			}
		}
		if len(res.bodies) < 10 || res.failed() != 0 {
			t.Fatalf("want many 200s and no failure: %d, %v", len(res.bodies), res)
		}
	})

	t.Run("aFrozenHeartbeatWriterTakesEveryReplicaOutAndReadsGoToThePrimary", func(t *testing.T) {
		// The service can no longer write its heartbeat (INSERT and UPDATE
		// on replication_heartbeat revoked on the primary), and replica-1
		// stops applying just after it has the last beat that committed.
		// Both replicas now hold the newest committed beat: by the
		// heartbeat a stopped replica-1 and a current replica-2 look the
		// same, and neither's lag can be shown to be within the bound any
		// more. The rule ages a replica holding the newest beat from one
		// interval after that beat was sent, so BOTH leave rotation about
		// MaxReplicaLag after the heartbeat froze, and every read goes to
		// the primary — replica-2 too, though it is in fact current: not
		// knowing its lag, the service must not bet on it. Not before,
		// either: a failed beat alone is no reason to leave.
		//
		// The old rule (lag = last successful write − beat held) gave both
		// lag 0 for ever: the wait below for them to leave would fail, and
		// replica-1 would serve the record written after it stopped without
		// the new report.
		//
		// When the grant and replication are back, both return, and take
		// reads again.
		const maxLag = 2 * time.Second
		s, user := replicatedServiceAs(t, c, fmt.Sprintf("Mysql: {MaxReplicaLag: %s}", maxLag), "Coalesce: false")
		rc := newReadCounter(t, c, s)
		heartbeat := fmt.Sprintf("INSERT, UPDATE ON `%s`.`replication_heartbeat`", c.Database())
		exec := func(stmt string) {
			if _, err := admin.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		stop := make(chan struct{})
		res, wg := load(t, s, clients, anyProject, false, stop)
		stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopLoad()
		time.Sleep(time.Second)

		frozen, took := inject(func() { exec("REVOKE " + heartbeat + " FROM " + user) })
		restored := false
		defer func() {
			if !restored {
				_, _ = admin.Exec("GRANT " + heartbeat + " TO " + user)
				c.StartReplication(t, replicatest.Replica(0))
			}
		}()
		// Both replicas apply what the primary committed — the last beat,
		// the REVOKE — and then replica-1 stops applying.
		c.WaitReplicated(t)
		c.StopReplication(t, replicatest.Replica(0))
		exec("INSERT INTO project_report (project_id, title, report_type, created_at) VALUES (2, 'Written with the heartbeat frozen', 'safety', UTC_TIMESTAMP() + INTERVAL 2 DAY)")

		b := bound{maxLag + heartbeatEvery + checkEvery + checkTimeout,
			"the last beat that committed was sent before the REVOKE returned; a replica holding it ages from heartbeatEvery after, passes MaxReplicaLag then, and the next check sees it: MaxReplicaLag + heartbeatEvery + checkEvery + checkTimeout", took}
		var firstOut time.Duration
		out := waitFor(t, frozen, b, "both replicas out of rotation once the heartbeat can no longer be written", func() bool {
			in0, in1 := s.Svc.Store.ReplicaHealthy(0), s.Svc.Store.ReplicaHealthy(1)
			if firstOut == 0 && (!in0 || !in1) {
				firstOut = time.Since(frozen)
			}
			return !in0 && !in1
		})
		t.Logf("heartbeat frozen: the first replica left rotation %s after the REVOKE began, both %s after (bound %s)",
			firstOut.Round(time.Millisecond), out.Round(time.Millisecond), b)
		if early := maxLag - boundMargin; firstOut < early {
			t.Errorf("a replica left rotation %s after the heartbeat froze, before its lag could pass MaxReplicaLag (%s): a failed beat is no lag", firstOut.Round(time.Millisecond), maxLag)
		}

		time.Sleep(checkEvery) // requests that picked a replica before it left have ended
		rc.expect(t, "heartbeat frozen, both replicas out", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Replica(0), replicatest.Replica(1)}, nil)
		for range 20 {
			r := servicetest.Get(t, s.URL+"/project/2?reports=1")
			if r.Status != http.StatusOK || !strings.Contains(r.Body, "Written with the heartbeat frozen") {
				t.Fatalf("with the heartbeat frozen: %d %s, want the primary's record with the newest report", r.Status, r.Body)
			}
		}

		back, took := inject(func() {
			exec("GRANT " + heartbeat + " TO " + user)
			c.StartReplication(t, replicatest.Replica(0))
		})
		restored = true
		// The next beat commits within heartbeatEvery and reaches both
		// replicas (replica-1 applies the few rows it missed first), and the
		// next check finds them current. One interval more: the refused
		// beats count as failures in the primary connection's go-zero
		// breaker, which may drop the first beat after the GRANT (when the
		// freeze outlasted the successes in its 10 s window); the beat after
		// a drop is let through.
		b = bound{2*heartbeatEvery + checkEvery + checkTimeout,
			"the next beat, or the one after if the primary's breaker drops it, commits and reaches both replicas; the next check finds them current: 2×heartbeatEvery + checkEvery + checkTimeout", took}
		in := waitFor(t, back, b, "both replicas back in rotation once the heartbeat is written again", func() bool {
			return s.Svc.Store.ReplicaHealthy(0) && s.Svc.Store.ReplicaHealthy(1)
		})
		t.Logf("both replicas back %s after the GRANT began (bound %s)", in.Round(time.Millisecond), b)
		rc.expect(t, "heartbeat written again, both replicas back", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary}, []replicatest.Node{replicatest.Replica(0), replicatest.Replica(1)})
		stopLoad()
		if res.failed() != 0 {
			t.Fatalf("requests failed while the heartbeat was frozen: %v", res)
		}
	})

	t.Run("aKilledReplicaFailsNoRequestIsEjectedAndRejoinsByTraffic", func(t *testing.T) {
		s := replicatedService(t, c, "Coalesce: false")
		rc := newReadCounter(t, c, s)
		stop := make(chan struct{})
		res, wg := load(t, s, clients, anyProject, false, stop)
		stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopLoad()
		time.Sleep(time.Second)
		killed, took := inject(func() { c.Kill(t, replicatest.Replica(1)) })
		b := outWhenSilent(took)
		out := waitFor(t, killed, b, "killed replica-2 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(1) })
		t.Logf("replica-2 ejected %s after docker kill began (bound %s)", out.Round(time.Millisecond), b)
		// A dead server's Com_select cannot be read: the primary and
		// replica-1 must account for every answer's reads between them.
		time.Sleep(checkEvery)
		rc.expect(t, "replica-2 killed", rc.window(t, res, servers[:2], 2*time.Second),
			[]replicatest.Node{replicatest.Primary}, []replicatest.Node{replicatest.Replica(0)})

		started, took := inject(
			func() { c.Start(t, replicatest.Replica(1)) },
			func() { c.WaitReplicated(t, replicatest.Replica(1)) })
		b = backWhenCurrent(took)
		in := waitFor(t, started, b, "replica-2 back in rotation once restarted and caught up", func() bool { return s.Svc.Store.ReplicaHealthy(1) })
		t.Logf("replica-2 back %s after docker start began (bound %s)", in.Round(time.Millisecond), b)
		rc.expect(t, "replica-2 back", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary}, []replicatest.Node{replicatest.Replica(0), replicatest.Replica(1)})
		stopLoad()
		if res.failed() != 0 {
			t.Fatalf("requests failed when a replica was killed: %v", res)
		}
	})
}

func TestReplicas_CutOffAndAllDown(t *testing.T) {
	c := replicatest.Start(t, 2, "sql/schema.sql", "sql/seed.sql")

	t.Run("aCutOffReplicaIsEjectedTakesNoReadAndRejoinsByTraffic", func(t *testing.T) {
		s := replicatedService(t, c, "Coalesce: false")
		rc := newReadCounter(t, c, s)
		stop := make(chan struct{})
		res, wg := load(t, s, clients, anyProject, false, stop)
		stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer stopLoad()
		time.Sleep(time.Second)
		cut, took := inject(func() { c.Disconnect(t, replicatest.Replica(0)) })
		b := outWhenSilent(took)
		out := waitFor(t, cut, b, "silent replica-1 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(0) })
		t.Logf("replica-1 ejected %s after the cut began (bound %s)", out.Round(time.Millisecond), b)
		time.Sleep(checkEvery)
		// Nothing reaches a cut-off server, not even the checker's reads.
		rc.expect(t, "replica-1 cut off", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary, replicatest.Replica(0)}, []replicatest.Node{replicatest.Replica(1)})

		healed, took := inject(
			func() { c.Reconnect(t, replicatest.Replica(0)) },
			func() { c.WaitReplicated(t, replicatest.Replica(0)) })
		b = backWhenCurrent(took)
		back := waitFor(t, healed, b, "replica-1 back in rotation once reconnected and caught up", func() bool { return s.Svc.Store.ReplicaHealthy(0) })
		t.Logf("replica-1 back %s after reconnecting began (bound %s)", back.Round(time.Millisecond), b)
		rc.expect(t, "replica-1 back", rc.window(t, res, servers, 2*time.Second),
			[]replicatest.Node{replicatest.Primary}, []replicatest.Node{replicatest.Replica(0), replicatest.Replica(1)})
		stopLoad()
		t.Logf("answers %v", res)
		// Only requests already waiting on the replica when it went silent
		// may fail (at most one per client); they are retried elsewhere
		// within their deadline, so normally none do.
		if res.failed() > clients {
			t.Fatalf("%d requests failed, more than were in flight (%d clients): %v", res.failed(), clients, res)
		}
	})

	t.Run("everyReplicaDownThePrimaryServesAndReadinessStays200", func(t *testing.T) {
		s := replicatedService(t, c)
		killed, took := inject(
			func() { c.Kill(t, replicatest.Replica(0)) },
			func() { c.Kill(t, replicatest.Replica(1)) })
		waitFor(t, killed, outWhenSilent(took), "both replicas out of rotation", func() bool {
			return !s.Svc.Store.ReplicaHealthy(0) && !s.Svc.Store.ReplicaHealthy(1)
		})
		before := c.SelectCount(t, replicatest.Primary)
		for range 20 {
			if res := servicetest.Get(t, s.URL+"/project/1"); res.Status != http.StatusOK {
				t.Fatalf("every replica down: %d %s, want the primary to serve", res.Status, res.Body)
			}
		}
		if got := c.SelectCount(t, replicatest.Primary) - before; got < 60 {
			t.Fatalf("the primary ran %d SELECTs for 20 records (3 each), want them all", got)
		}
		if res := servicetest.Get(t, s.URL+"/readyz"); res.Status != http.StatusOK {
			t.Fatalf("readiness %d with the primary up, want 200", res.Status)
		}
	})
}
