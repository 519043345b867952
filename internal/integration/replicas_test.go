package integration

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/auth"
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
	primary, replicas := c.ServiceUserDSNs(t)
	yaml := fmt.Sprintf("Mysql: {Replicas: [%q, %q]}", replicas[0], replicas[1])
	s := servicetest.Start(t, servicetest.Config(t, primary, append([]string{yaml, "CpuThreshold: 0"}, overrides...)...))
	if !servicetest.Eventually(10*time.Second, func() bool { return s.Svc.Store.ReplicaHealthy(0) && s.Svc.Store.ReplicaHealthy(1) }) {
		t.Fatal("the replicas did not enter rotation within 10 s")
	}
	return s
}

// loadResult is what a load run saw.
type loadResult struct {
	mu       sync.Mutex
	statuses map[int]int
	bodies   []string // of the 200s, when kept
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
				r := servicetest.Get(t, s.URL+path(rng))
				res.mu.Lock()
				res.statuses[r.Status]++
				if keepBodies && r.Status == http.StatusOK {
					res.bodies = append(res.bodies, r.Body)
				}
				res.mu.Unlock()
			}
		})
	}
	return res, &wg
}

func anyProject(rng *rand.Rand) string { return fmt.Sprintf("/project/%d", 1+rng.IntN(3)) }

// selects is each server's Com_select now.
func selects(t *testing.T, c *replicatest.Cluster) [3]int64 {
	return [3]int64{c.SelectCount(t, replicatest.Primary), c.SelectCount(t, replicatest.Replica(0)), c.SelectCount(t, replicatest.Replica(1))}
}

// waitFor returns how long cond took to hold (failing t after within).
// waitFor waits until cond holds, at most within after since (the moment a
// fault began, so that the time the fault's own docker call took counts),
// and returns how long after since it held.
func waitFor(t *testing.T, since time.Time, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	if !servicetest.Eventually(time.Until(since.Add(within)), cond) {
		t.Fatalf("%s: not within %s", what, within)
	}
	return time.Since(since)
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
		res, wg := load(t, s, 4, anyProject, false, stop)
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
		res, wg := load(t, s, 4, func(*rand.Rand) string { return "/project/1?reports=1" }, true, stop)
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
		const bound = 2 * time.Second
		s := replicatedService(t, c, fmt.Sprintf("Mysql: {MaxReplicaLag: %s}", bound))
		c.StopReplication(t, replicatest.Replica(0))
		defer c.StartReplication(t, replicatest.Replica(0))
		if _, err := admin.Exec("INSERT INTO project_report (project_id, title, report_type, created_at) VALUES (2, 'Newest report', 'safety', UTC_TIMESTAMP() + INTERVAL 1 DAY)"); err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		c.WaitReplicated(t, replicatest.Replica(1))
		ejected := waitFor(t, written, bound+3*time.Second, "the lagging replica-1 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(0) })
		t.Logf("replica-1 ejected %s after the write (bound %s)", ejected.Round(time.Millisecond), bound)
		if !s.Svc.Store.ReplicaHealthy(1) {
			t.Fatal("the up-to-date replica-2 left rotation too")
		}
		stop := make(chan struct{})
		res, wg := load(t, s, 4, func(*rand.Rand) string { return "/project/2?reports=1" }, true, stop)
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		for _, b := range res.bodies {
			if !strings.Contains(b, "Newest report") {
				t.Fatalf("a 200 past the lag bound misses the newest report (read from the lagging replica): %s", b)
			}
		}
		if len(res.bodies) < 10 || res.failed() != 0 {
			t.Fatalf("want many 200s and no failure: %d, %v", len(res.bodies), res)
		}
	})

	t.Run("aKilledReplicaFailsNoRequestAndIsEjectedWithin2s", func(t *testing.T) {
		s := replicatedService(t, c)
		stop := make(chan struct{})
		res, wg := load(t, s, 4, anyProject, false, stop)
		time.Sleep(time.Second)
		killed := time.Now()
		c.Kill(t, replicatest.Replica(1))
		took := waitFor(t, killed, 2*time.Second, "killed replica-2 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(1) })
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("replica-2 ejected %s after docker kill; answers %v", took.Round(time.Millisecond), res)
		if res.failed() != 0 {
			t.Fatalf("requests failed when a replica was killed: %v", res)
		}
	})
}

func TestReplicas_CutOffAndAllDown(t *testing.T) {
	c := replicatest.Start(t, 2, "sql/schema.sql", "sql/seed.sql")

	t.Run("aCutOffReplicaIsEjectedWithin2sAndBackWithin5sOfReconnecting", func(t *testing.T) {
		s := replicatedService(t, c)
		stop := make(chan struct{})
		res, wg := load(t, s, 4, anyProject, false, stop)
		time.Sleep(time.Second)
		cut := time.Now()
		c.Disconnect(t, replicatest.Replica(0))
		out := waitFor(t, cut, 2*time.Second, "silent replica-1 out of rotation", func() bool { return !s.Svc.Store.ReplicaHealthy(0) })
		time.Sleep(2 * time.Second)
		healed := time.Now()
		c.Reconnect(t, replicatest.Replica(0))
		back := waitFor(t, healed, 5*time.Second, "replica-1 back in rotation", func() bool { return s.Svc.Store.ReplicaHealthy(0) })
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		t.Logf("replica-1 ejected %s after the cut, back %s after reconnecting; answers %v", out.Round(time.Millisecond), back.Round(time.Millisecond), res)
		// Only requests already waiting on the replica when it went silent
		// may fail (at most one per client); they are retried elsewhere
		// within their deadline, so normally none do.
		if res.failed() > 4 {
			t.Fatalf("%d requests failed, more than were in flight (4 clients): %v", res.failed(), res)
		}
	})

	t.Run("everyReplicaDownThePrimaryServesAndReadinessStays200", func(t *testing.T) {
		s := replicatedService(t, c)
		killed := time.Now()
		c.Kill(t, replicatest.Replica(0))
		c.Kill(t, replicatest.Replica(1))
		waitFor(t, killed, 2*time.Second, "both replicas out of rotation", func() bool {
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
