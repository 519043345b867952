package project_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/syncx"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// These tests never sleep: every wait is on something the test can observe
// — how many callers are inside the service's SingleFlight (a waiter count
// kept by a wrapper around svcCtx.Coalesce) and how many loads the fake
// model has seen — and is bounded by waitBound.

// signal wakes whoever waits on a change of the observed counts.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

// notify wakes every current waiter.
func (s *signal) notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

func (s *signal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// waitUntil returns once cond holds, re-checking it at every notification;
// after waitBound it fails the test with what was awaited and state().
func waitUntil(t *testing.T, sig *signal, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		ch := sig.changed() // before cond: no notification is missed
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("after %s still waiting for %s (%s)", waitBound, what, state())
		}
	}
}

// countingFlight is the service's SingleFlight with a waiter count: the
// callers inside Do right now, and all that ever entered.
type countingFlight struct {
	syncx.SingleFlight
	sig     *signal
	inside  atomic.Int64
	entered atomic.Int64
}

func (f *countingFlight) Do(key string, fn func() (any, error)) (any, error) {
	f.entered.Add(1)
	f.inside.Add(1)
	f.sig.notify()
	defer func() { f.inside.Add(-1); f.sig.notify() }()
	return f.SingleFlight.Do(key, fn)
}

func (f *countingFlight) DoEx(key string, fn func() (any, error)) (any, bool, error) {
	f.entered.Add(1)
	f.inside.Add(1)
	f.sig.notify()
	defer func() { f.inside.Add(-1); f.sig.notify() }()
	return f.SingleFlight.DoEx(key, fn)
}

// gated is a service whose project loads are counted and held until the
// gate is opened (or the load's context ends); with coalescing on, its
// SingleFlight is wrapped in a countingFlight.
type gated struct {
	t       *testing.T
	svc     *svc.ServiceContext
	sig     *signal
	loads   atomic.Int64
	flight  *countingFlight // nil with coalescing off
	release chan struct{}
	open    sync.Once
}

func newGated(t *testing.T, coalesce bool) *gated {
	g := &gated{t: t, sig: newSignal(), release: make(chan struct{})}
	g.svc = newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			g.loads.Add(1)
			g.sig.notify()
			select {
			case <-g.release:
				return someProject(id), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}),
		fakes.AllInstitutions(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return []*model.ProjectInstitutionDetail{{Id: 3, Name: "Site"}}, nil
		}),
		fakes.LatestReports(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return []*model.ProjectReport{{Id: 9, Title: "R"}}, nil
		}),
		fmt.Sprintf("Coalesce: %t", coalesce),
	)
	if coalesce {
		if g.svc.Coalesce == nil {
			t.Fatal("Coalesce: true built no SingleFlight")
		}
		g.flight = &countingFlight{SingleFlight: g.svc.Coalesce, sig: g.sig}
		g.svc.Coalesce = g.flight
	} else if g.svc.Coalesce != nil {
		t.Fatal("Coalesce: false built a SingleFlight")
	}
	// A failed test must not leave its clients blocked (leakcheck).
	t.Cleanup(g.openGate)
	return g
}

// openGate lets every held load (and every later one) finish.
func (g *gated) openGate() { g.open.Do(func() { close(g.release) }) }

func (g *gated) state() string {
	s := fmt.Sprintf("%d loads", g.loads.Load())
	if g.flight != nil {
		s += fmt.Sprintf(", %d callers inside Do, %d entered", g.flight.inside.Load(), g.flight.entered.Load())
	}
	return s
}

func (g *gated) waitUntil(what string, cond func() bool) {
	g.t.Helper()
	waitUntil(g.t, g.sig, what, cond, g.state)
}

// result is one client's answer.
type result struct {
	resp *types.ProjectDetailsResp
	err  error
}

// get starts one request for project 5 (10 reports) with ctx; its answer
// arrives on the returned channel.
func (g *gated) get(ctx context.Context) <-chan result {
	done := make(chan result, 1)
	go func() {
		resp, err := project.NewGetProjectDetailsLogic(auth.Attach(ctx, auth.Anonymous), g.svc).
			GetProjectDetails(&types.ProjectDetailsReq{Id: 5, Reports: 10})
		done <- result{resp, err}
	}()
	return done
}

// answer is a client's answer, or a failure after waitBound.
func answer(t *testing.T, who string, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(waitBound):
		t.Fatalf("%s never got an answer", who)
		return result{}
	}
}

const clients = 8

// TestCoalesce_ConcurrentIdenticalRequestsShareOneLoad: while one load is
// held, all clients are inside the SingleFlight and that one load is the
// only one; the same requests against a Coalesce: false service make one
// load each — the join is real, not an artefact of the fake.
func TestCoalesce_ConcurrentIdenticalRequestsShareOneLoad(t *testing.T) {
	g := newGated(t, true)
	var done []<-chan result
	for range clients {
		done = append(done, g.get(context.Background()))
	}
	g.waitUntil(fmt.Sprintf("all %d clients inside the SingleFlight with the load started", clients), func() bool {
		return g.flight.inside.Load() == clients && g.loads.Load() >= 1
	})
	// The load is held: a client inside Do either waits on it or is about
	// to join it; none can start another.
	if n := g.loads.Load(); n != 1 {
		t.Fatalf("%d loads for %d identical concurrent requests, want 1", n, clients)
	}
	g.openGate()
	results := make([]result, clients)
	for i, d := range done {
		results[i] = answer(t, fmt.Sprintf("client %d", i), d)
		if results[i].err != nil {
			t.Errorf("client %d: %v", i, results[i].err)
		}
	}
	// Every client entered Do while the load was held; a second load could
	// only come from a client that reached the flight after it ended.
	if n := g.loads.Load(); n >= clients {
		t.Fatalf("%d loads for %d identical concurrent requests: they were not joined", n, clients)
	}

	// A coalesced response equals a fresh, uncoalesced load of the same record.
	fresh, err := load(context.Background(), g.svc, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if !reflect.DeepEqual(r.resp, fresh) {
			t.Fatalf("client %d got %+v, a fresh load gives %+v", i, r.resp, fresh)
		}
	}

	// The same requests with coalescing off: one load each, all held at once.
	off := newGated(t, false)
	done = done[:0]
	for range clients {
		done = append(done, off.get(context.Background()))
	}
	off.waitUntil(fmt.Sprintf("%d loads with Coalesce: false", clients), func() bool {
		return off.loads.Load() == clients
	})
	off.openGate()
	for i, d := range done {
		if r := answer(t, fmt.Sprintf("uncoalesced client %d", i), d); r.err != nil {
			t.Errorf("uncoalesced client %d: %v", i, r.err)
		}
	}
	if n := off.loads.Load(); n != clients {
		t.Fatalf("Coalesce: false made %d loads for %d requests, want %d", n, clients, clients)
	}
}

func TestCoalesce_NoCachingAfterTheLoad(t *testing.T) {
	g := newGated(t, true)
	g.openGate()
	for range 3 {
		if r := answer(t, "a sequential request", g.get(context.Background())); r.err != nil {
			t.Fatal(r.err)
		}
	}
	if n := g.loads.Load(); n != 3 {
		t.Fatalf("%d loads for 3 sequential requests, want 3 (no result may outlive its load)", n)
	}
}

// TestCoalesce_FollowersSurviveLeaderCancel: the leader's load is held, the
// followers join it (one load for all), then the leader is canceled. The
// followers do not inherit its cancellation: they load again and answer.
func TestCoalesce_FollowersSurviveLeaderCancel(t *testing.T) {
	g := newGated(t, true)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	defer cancelLeader()
	leader := g.get(leaderCtx)
	// The leader is the client whose load runs: it is held before anyone joins.
	g.waitUntil("the leader's load", func() bool { return g.loads.Load() == 1 })
	var followers []<-chan result
	for range clients - 1 {
		followers = append(followers, g.get(context.Background()))
	}
	g.waitUntil(fmt.Sprintf("the leader and %d followers inside the SingleFlight", clients-1), func() bool {
		return g.flight.inside.Load() == clients
	})
	if n := g.loads.Load(); n != 1 {
		t.Fatalf("%d loads for %d identical concurrent requests before the leader was canceled, want 1", n, clients)
	}

	cancelLeader()
	if r := answer(t, "the canceled leader", leader); r.err == nil {
		t.Fatal("the canceled leader succeeded")
	}
	g.openGate()
	for i, f := range followers {
		if r := answer(t, fmt.Sprintf("follower %d", i), f); r.err != nil {
			t.Fatalf("follower %d inherited its leader's cancellation: %v", i, r.err)
		}
	}
	// Nothing of the canceled load was shared: the followers loaded again.
	if n := g.loads.Load(); n < 2 {
		t.Fatalf("%d loads: the followers answered without loading again after the leader's load was canceled", n)
	}
}
