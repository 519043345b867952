package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/zeromicro/go-zero/core/logx/logtest"
	zeroprom "github.com/zeromicro/go-zero/core/prometheus"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/model"
)

// counter is the value of the counter name{labels} in the default
// registry (0 when it has not been counted yet). go-zero's metrics count
// only once prometheus is enabled, as the service does at start.
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	zeroprom.Enable()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// servers are a primary and n replicas (all healthy) over no database:
// what matters is on which server's models a read runs.
func servers(n int) (*Store, []*server) {
	primary := &server{name: "primary"}
	var replicas []*server
	for i := range n {
		r := &server{name: replicaName(i), replica: &replicaState{}}
		r.replica.healthy.Store(true)
		replicas = append(replicas, r)
	}
	s := &Store{primary: primary}
	if n > 0 {
		s.replicas = &replicaSet{servers: replicas, maxLag: time.Second}
	}
	return s, replicas
}

// where runs one read and says on which server's models it ran.
func where(t *testing.T, s *Store) string {
	t.Helper()
	var name string
	if err := s.Read(context.Background(), func(_ context.Context, m *Models) error {
		name = s.nameOf(m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

func (s *Store) nameOf(m *Models) string {
	if m == &s.primary.models {
		return s.primary.name
	}
	for _, r := range s.replicas.servers {
		if m == &r.models {
			return r.name
		}
	}
	return "?"
}

func TestRead_WithoutReplicasEveryReadRunsOnThePrimary(t *testing.T) {
	s, _ := servers(0)
	for range 3 {
		if got := where(t, s); got != "primary" {
			t.Fatalf("read on %s, want the primary", got)
		}
	}
	if s.ReplicaHealthy(0) || s.AnyReplicaHealthy() {
		t.Fatal("a store without replicas reports a healthy replica")
	}
}

func TestRead_SpreadsReadsOverTheHealthyReplicasOnly(t *testing.T) {
	s, r := servers(3)
	seen := map[string]int{}
	for range 6 {
		seen[where(t, s)]++
	}
	if seen["replica-1"] != 2 || seen["replica-2"] != 2 || seen["replica-3"] != 2 {
		t.Fatalf("6 reads went to %v, want 2 on each replica, in turn", seen)
	}
	r[1].replica.healthy.Store(false)
	clear(seen)
	for range 6 {
		seen[where(t, s)]++
	}
	// (the replica after one out of rotation takes its turns too: 2 and 4)
	if seen["replica-1"] == 0 || seen["replica-3"] == 0 || seen["replica-1"]+seen["replica-3"] != 6 {
		t.Fatalf("6 reads went to %v, want replica-1 and replica-3 only (replica-2 is out)", seen)
	}
	if !s.ReplicaHealthy(0) || s.ReplicaHealthy(1) || !s.ReplicaHealthy(2) || !s.AnyReplicaHealthy() {
		t.Fatal("ReplicaHealthy does not say which replicas are in rotation")
	}
}

func TestRead_WithNoHealthyReplicaReadsGoToThePrimary(t *testing.T) {
	s, r := servers(2)
	for _, x := range r {
		x.replica.healthy.Store(false)
	}
	before := counter(t, "project_read_primary_fallbacks_total", map[string]string{"reason": "no_healthy_replica"})
	if got := where(t, s); got != "primary" {
		t.Fatalf("read on %s, want the primary", got)
	}
	if s.AnyReplicaHealthy() {
		t.Fatal("AnyReplicaHealthy with every replica out")
	}
	if got := counter(t, "project_read_primary_fallbacks_total", map[string]string{"reason": "no_healthy_replica"}); got != before+1 {
		t.Fatalf("primary fallbacks (no_healthy_replica) %v → %v, want one more", before, got)
	}
}

// failOn runs a read whose attempts fail with err on the servers named in
// failing, and returns the servers it ran on and its error.
func failOn(s *Store, ctx context.Context, err error, failing ...string) ([]string, error) {
	var mu sync.Mutex
	var ran []string
	readErr := s.Read(ctx, func(_ context.Context, m *Models) error {
		name := s.nameOf(m)
		mu.Lock()
		ran = append(ran, name)
		mu.Unlock()
		for _, f := range failing {
			if f == name {
				return err
			}
		}
		return nil
	})
	return ran, readErr
}

// TestRead_AReplicaThatGoesAwayLeavesAndTheReadRunsOnceMoreElsewhere: a
// read failing on a replica as a replica going away fails (unreachable,
// timed out) is run again on another healthy replica, else the primary,
// and the replica leaves rotation.
func TestRead_AReplicaThatGoesAwayLeavesAndTheReadRunsOnceMoreElsewhere(t *testing.T) {
	for _, gone := range []error{driver.ErrBadConn, context.DeadlineExceeded, mysql.ErrInvalidConn, &mysql.MySQLError{Number: 1053}} {
		t.Run(fmt.Sprint(gone), func(t *testing.T) {
			s, r := servers(2)
			first := s.replicas.servers[(s.replicas.next.Load()+1)%2].name
			ran, err := failOn(s, context.Background(), gone, first)
			if err != nil || len(ran) != 2 || ran[0] != first || ran[1] == first || ran[1] == "primary" {
				t.Fatalf("ran on %v, err %v: want %s, then the other replica", ran, err, first)
			}
			if r[0].replica.healthy.Load() == (first == "replica-1") {
				t.Fatalf("%s still in rotation after it went away", first)
			}
			// The other replica goes too: the retry runs on the primary.
			ran, err = failOn(s, context.Background(), gone, ran[1])
			if err != nil || len(ran) != 2 || ran[1] != "primary" {
				t.Fatalf("ran on %v, err %v: want the last replica, then the primary", ran, err)
			}
			if s.AnyReplicaHealthy() {
				t.Fatal("a replica that went away is still in rotation")
			}
		})
	}
}

// TestRead_ARetryFailsAsItsOwnAttempt: the one retry's error is the read's.
func TestRead_ARetryFailsAsItsOwnAttempt(t *testing.T) {
	s, _ := servers(1)
	ran, err := failOn(s, context.Background(), driver.ErrBadConn, "replica-1", "primary")
	if !errors.Is(err, driver.ErrBadConn) || len(ran) != 2 {
		t.Fatalf("ran on %v, err %v: want two attempts and the second's error", ran, err)
	}
}

// TestRead_AnAnswerIsNotRetried: a failure the replica going away does
// not explain (no such row, a bug, the client gone) is the answer: no
// retry, and the replica stays.
func TestRead_AnAnswerIsNotRetried(t *testing.T) {
	for _, answer := range []error{model.ErrNotFound, errors.New("bug"), &mysql.MySQLError{Number: 1146}, context.Canceled} {
		s, r := servers(1)
		ran, err := failOn(s, context.Background(), answer, "replica-1")
		if !errors.Is(err, answer) || len(ran) != 1 || !r[0].replica.healthy.Load() {
			t.Fatalf("%v: ran on %v, err %v, replica in rotation %v: want one attempt, the error, the replica kept",
				answer, ran, err, r[0].replica.healthy.Load())
		}
	}
}

func TestRead_NoRetryOnceTheRequestIsOver(t *testing.T) {
	s, r := servers(2)
	ctx, cancel := context.WithCancel(context.Background())
	var ran int
	err := s.Read(ctx, func(context.Context, *Models) error {
		ran++
		cancel()
		return driver.ErrBadConn
	})
	if !errors.Is(err, driver.ErrBadConn) || ran != 1 {
		t.Fatalf("%d attempts, err %v: want one, its error", ran, err)
	}
	if !r[0].replica.healthy.Load() || !r[1].replica.healthy.Load() {
		t.Fatal("a replica was ejected for a request that was over")
	}
}

// TestRead_AReplicaGetsAtMostHalfTheTimeLeft: a silent replica leaves the
// retry half of the request's time; the primary (no retry) gets all of it.
func TestRead_AReplicaGetsAtMostHalfTheTimeLeft(t *testing.T) {
	budget := func(s *Store, ctx context.Context, failing ...string) []time.Duration {
		var left []time.Duration
		_ = s.Read(ctx, func(ctx context.Context, m *Models) error {
			d, ok := ctx.Deadline()
			if !ok {
				left = append(left, -1)
			} else {
				left = append(left, time.Until(d))
			}
			for _, f := range failing {
				if f == s.nameOf(m) {
					return context.DeadlineExceeded
				}
			}
			return nil
		})
		return left
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, _ := servers(1)
	left := budget(s, ctx, "replica-1")
	if len(left) != 2 || left[0] > time.Second || left[0] < 500*time.Millisecond || left[1] < 1200*time.Millisecond {
		t.Fatalf("time left for the replica, then the retry: %v, want about 1 s, then the rest (about 2 s)", left)
	}
	s, _ = servers(0)
	if left := budget(s, ctx); len(left) != 1 || left[0] < 1200*time.Millisecond {
		t.Fatalf("time left for the primary: %v, want all of it", left)
	}
	s, _ = servers(1)
	if left := budget(s, context.Background()); len(left) != 1 || left[0] != -1 {
		t.Fatalf("a request without a deadline: %v, want none for the replica either", left)
	}
}

// heartbeats is a replication_heartbeat: the primary's Beat records, a
// replica's LastBeat answers what the test says it holds.
type heartbeats struct {
	model.ReplicationHeartbeatModel
	mu      sync.Mutex
	beats   []time.Time
	beatErr error
	held    func() (time.Time, error) // a replica's row
}

func newHeartbeats() *heartbeats {
	return &heartbeats{} // only Beat and LastBeat are called
}

func (h *heartbeats) Beat(_ context.Context, _ uint64, at time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.beatErr != nil {
		return h.beatErr
	}
	h.beats = append(h.beats, at)
	return nil
}

func (h *heartbeats) last() (time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.beats) == 0 {
		return time.Time{}, model.ErrNotFound
	}
	return h.beats[len(h.beats)-1], nil
}

func (h *heartbeats) LastBeat(context.Context, uint64) (time.Time, error) {
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	return held()
}

// replica is a replica server over a fake pool that answers pings with
// ping, holding the beats held says.
func replica(t *testing.T, i int, ping func(context.Context) error, held func() (time.Time, error)) *server {
	t.Helper()
	db := openFake(t, &fakeServer{ping: ping})
	h := newHeartbeats()
	h.held = held
	r := &server{name: replicaName(i), db: db, replica: &replicaState{}}
	r.models.ReplicationHeartbeat = h
	return r
}

// TestCheck_AReplicaIsInRotationOnlyWhileItAnswersAndIsCurrent: each check
// puts a replica in rotation when it answers a ping and holds a beat at
// most MaxReplicaLag old, and takes it out otherwise, counting why.
func TestCheck_AReplicaIsInRotationOnlyWhileItAnswersAndIsCurrent(t *testing.T) {
	set := &replicaSet{maxLag: 2 * time.Second, beats: beatLog{keep: 10}}
	now := time.Now()
	current := set.beats.attempt(now.Add(-500 * time.Millisecond))
	set.beats.committed(current)
	stale := set.beats.attempt(now.Add(-5 * time.Second)) // sent long ago, never committed
	var (
		mu   sync.Mutex
		ping error
		held = func() (time.Time, error) { return current, nil }
	)
	r := replica(t, 9, func(context.Context) error { mu.Lock(); defer mu.Unlock(); return ping }, func() (time.Time, error) {
		mu.Lock()
		defer mu.Unlock()
		return held()
	})
	set.servers = []*server{r}
	ejections := func(reason string) float64 {
		return counter(t, "project_replica_ejections_total", map[string]string{"replica": r.name, "reason": reason})
	}
	for _, tc := range []struct {
		name    string
		ping    error
		held    func() (time.Time, error)
		healthy bool
		reason  string
	}{
		{"current", nil, func() (time.Time, error) { return current, nil }, true, ""},
		{"down", errors.New("connection refused"), nil, false, "down"},
		{"backAndCurrent", nil, func() (time.Time, error) { return current, nil }, true, ""},
		{"noBeatYet", nil, func() (time.Time, error) { return time.Time{}, model.ErrNotFound }, false, "lag"},
		{"backAgain", nil, func() (time.Time, error) { return current, nil }, true, ""},
		{"beatUnreadable", nil, func() (time.Time, error) { return time.Time{}, errors.New("table missing") }, false, "down"},
		{"backOnceMore", nil, func() (time.Time, error) { return current, nil }, true, ""},
		{"behind", nil, func() (time.Time, error) { return stale, nil }, false, "lag"},
		{"backLast", nil, func() (time.Time, error) { return current, nil }, true, ""},
		{"unknownBeat", nil, func() (time.Time, error) { return now.Add(-time.Hour), nil }, false, "lag"},
		{"current", nil, func() (time.Time, error) { return current, nil }, true, ""},
	} {
		mu.Lock()
		ping = tc.ping
		if tc.held != nil {
			held = tc.held
		}
		mu.Unlock()
		before := ejections(tc.reason)
		set.check(context.Background(), r)
		if r.replica.healthy.Load() != tc.healthy {
			t.Fatalf("%s: in rotation %v, want %v", tc.name, r.replica.healthy.Load(), tc.healthy)
		}
		if tc.reason != "" && ejections(tc.reason) != before+1 {
			t.Fatalf("%s: ejections for %s %v → %v, want one more", tc.name, tc.reason, before, ejections(tc.reason))
		}
	}
	// A check cut short by the service stopping changes nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	mu.Lock()
	ping = ctx.Err()
	mu.Unlock()
	set.check(ctx, r)
	if !r.replica.healthy.Load() {
		t.Fatal("a replica was taken out by a check the service stopped")
	}
}

// TestReplicaSet_AReplicaJoinsOnceItHoldsTheBeatsAndLeavesWhenItStopsAnswering:
// the heartbeat and the watch, running: a replica holding the primary's
// latest beat joins rotation within a check or two; one that stops
// answering pings leaves within two checks; close stops both.
func TestReplicaSet_AReplicaJoinsOnceItHoldsTheBeatsAndLeavesWhenItStopsAnswering(t *testing.T) {
	primary := newHeartbeats()
	var down sync.Mutex
	var gone bool
	r := replica(t, 0, func(context.Context) error {
		down.Lock()
		defer down.Unlock()
		if gone {
			return errors.New("connection refused")
		}
		return nil
	}, primary.last)
	set := newReplicaSet(primary, []*server{r}, 2*time.Second)
	closed := false
	defer func() {
		if !closed {
			set.close()
		}
	}()
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the replica holding the latest beat joins rotation", 5*time.Second, r.replica.healthy.Load)
	down.Lock()
	gone = true
	down.Unlock()
	waitFor("the replica that stopped answering leaves rotation", 3*time.Second, func() bool { return !r.replica.healthy.Load() })
	set.close()
	closed = true
	primary.mu.Lock()
	n := len(primary.beats)
	primary.mu.Unlock()
	time.Sleep(HeartbeatEvery + 100*time.Millisecond)
	primary.mu.Lock()
	defer primary.mu.Unlock()
	if len(primary.beats) != n {
		t.Fatal("beats were written after close")
	}
	if n == 0 {
		t.Fatal("no beat was written")
	}
	// The log keeps MaxReplicaLag's worth of beats and 8 more.
	if set.beats.keep != 2+8 {
		t.Fatalf("the beat log keeps %d beats, want MaxReplicaLag/HeartbeatEvery + 8 = 10", set.beats.keep)
	}
}

// TestOpen_OnePoolPerServerWithTheConfiguredSettings: the primary's pool
// and one per replica, named primary, replica-1, replica-2 in the pool
// metrics, with the operator's settings; no connection is made at Open.
func TestOpen_OnePoolPerServerWithTheConfiguredSettings(t *testing.T) {
	c := config.MysqlConf{DataSource: "u:p@tcp(127.0.0.1:1)/db", MaxOpenConns: 7, MaxIdleConns: 3,
		ConnMaxLifetime: time.Minute, ConnMaxIdleTime: time.Second, MaxReplicaLag: time.Second,
		Replicas: []string{"u:p@tcp(127.0.0.1:1)/r1", "u:p@tcp(127.0.0.1:1)/r2"}}
	s, err := Open(c, WithModels(func(m *Models) { m.ReplicationHeartbeat = newHeartbeats() }))
	if err != nil {
		t.Fatal(err)
	}
	if st := s.PrimaryStats(); st.MaxOpenConnections != 7 || st.OpenConnections != 0 {
		t.Fatalf("primary pool %+v, want at most 7 connections and none open", st)
	}
	reg := prometheus.NewRegistry()
	if err := s.RegisterPoolMetrics(reg, "primary"); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "go_sql_max_open_connections" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "db_name" {
					names[l.GetValue()] = true
					if m.GetGauge().GetValue() != 7 {
						t.Errorf("%s: max open %v, want 7", l.GetValue(), m.GetGauge().GetValue())
					}
				}
			}
		}
	}
	if len(names) != 3 || !names["primary"] || !names["replica-1"] || !names["replica-2"] {
		t.Fatalf("pool metrics of %v, want primary, replica-1, replica-2", names)
	}
	if err := s.RegisterPoolMetrics(reg, "primary"); err == nil {
		t.Fatal("registering the pools twice: no error")
	}
	if err := s.PingPrimary(context.Background()); err == nil {
		t.Fatal("ping of a primary nothing listens for: no error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.PingPrimary(context.Background()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("ping after Close: %v, want the pool closed", err)
	}
}

func TestOpen_RefusesABadDSNWithoutQuotingIt(t *testing.T) {
	for name, c := range map[string]config.MysqlConf{
		"primary": {DataSource: "u:s3cret@tcp(db"},
		"replica": {DataSource: "u:p@tcp(127.0.0.1:1)/db", Replicas: []string{"u:p@tcp(127.0.0.1:1)/r1", "u:s3cret@tcp(db"}},
	} {
		s, err := Open(c)
		if err == nil || s != nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("%s: %v, %v: want an error that does not quote the DSN", name, s, err)
		}
		if name == "replica" && !strings.Contains(err.Error(), "Mysql.Replicas[1]") {
			t.Fatalf("replica: %v, want the replica named", err)
		}
	}
}

// TestOpen_WithDBTheGivenPoolIsThePrimary: the pool a test gives is the
// one reads and pings use.
func TestOpen_WithDBTheGivenPoolIsThePrimary(t *testing.T) {
	refused := errors.New("refused")
	db := openFake(t, &fakeServer{ping: func(context.Context) error { return refused }})
	s, err := Open(config.MysqlConf{DataSource: "never parsed"}, WithDB(db))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PingPrimary(context.Background()); !errors.Is(err, refused) {
		t.Fatalf("ping: %v, want the given pool's answer", err)
	}
	if s.Primary() != &s.primary.models {
		t.Fatal("Primary is not the primary's models")
	}
}

// TestOpen_WithoutReplicasNothingWatchesOrBeats: a store without replicas
// writes no heartbeat to the primary and counts no read as a fallback.
func TestOpen_WithoutReplicasNothingWatchesOrBeats(t *testing.T) {
	h := newHeartbeats()
	db := openFake(t, &fakeServer{})
	s, err := Open(config.MysqlConf{MaxReplicaLag: time.Second}, WithDB(db), WithModels(func(m *Models) { m.ReplicationHeartbeat = h }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fallbacks := func() float64 {
		return counter(t, "project_read_primary_fallbacks_total", map[string]string{"reason": "no_healthy_replica"})
	}
	before := fallbacks()
	if err := s.Read(context.Background(), func(_ context.Context, m *Models) error {
		if m != s.Primary() {
			t.Error("a read without replicas ran elsewhere than on the primary")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a heartbeat writer would have written its first beat
	h.mu.Lock()
	beats := len(h.beats)
	h.mu.Unlock()
	if beats != 0 || fallbacks() != before {
		t.Fatalf("%d heartbeats written, fallbacks %v → %v: want none of either without replicas", beats, before, fallbacks())
	}
}

// TestReplicaSet_ABeatIsCommittedOnlyWhenThePrimaryTookIt: the heartbeat
// marks a beat written only when the primary's write succeeded; a refused
// write leaves it uncommitted (a replica lacking it is not yet behind).
func TestReplicaSet_ABeatIsCommittedOnlyWhenThePrimaryTookIt(t *testing.T) {
	for _, refused := range []bool{false, true} {
		logs := logtest.NewCollector(t)
		primary := newHeartbeats()
		if refused {
			primary.beatErr = errors.New("INSERT command denied")
		}
		set := newReplicaSet(primary, nil, 2*time.Second)
		// Two attempts: the first one's outcome is recorded before the second begins.
		deadline := time.Now().Add(HeartbeatEvery + 3*time.Second)
		var beats []beat
		for {
			set.beats.mu.Lock()
			beats = slices.Clone(set.beats.beats)
			set.beats.mu.Unlock()
			if len(beats) >= 2 {
				break
			}
			if time.Now().After(deadline) {
				set.close()
				t.Fatalf("refused=%v: %d beats attempted within %s, want 2", refused, len(beats), HeartbeatEvery+3*time.Second)
			}
			time.Sleep(10 * time.Millisecond)
		}
		set.close()
		if beats[0].committed == refused {
			t.Errorf("refused=%v: the first beat's committed = %v, want %v", refused, beats[0].committed, !refused)
		}
		if logged := strings.Contains(logs.String(), "replication heartbeat on the primary failed"); logged != refused {
			t.Errorf("refused=%v: the failure logged = %v, want %v", refused, logged, refused)
		}
	}
}
