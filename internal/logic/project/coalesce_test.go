package project_test

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// gatedSvc counts project loads; each load waits for release to close.
func gatedSvc(t testing.TB, loads *atomic.Int64, release <-chan struct{}) *svc.ServiceContext {
	s := newSvc(t,
		fakes.Project(func(ctx context.Context, id uint64) (*model.Project, error) {
			loads.Add(1)
			select {
			case <-release:
				return someProject(id), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}),
		fakes.ProjectInstitution(func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return []*model.ProjectInstitutionDetail{{Id: 3, Name: "Site"}}, nil
		}),
		fakes.ProjectReport(func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			return []*model.ProjectReport{{Id: 9, Title: "R"}}, nil
		}),
		"Coalesce: true",
	)
	return s
}

func TestCoalesce_ConcurrentIdenticalRequestsShareOneLoad(t *testing.T) {
	var loads atomic.Int64
	release := make(chan struct{})
	s := gatedSvc(t, &loads, release)
	const clients = 8
	results := make([]*types.ProjectDetailsResp, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := project.NewGetProjectDetailsLogic(auth.Attach(context.Background(), auth.Anonymous), s).
				GetProjectDetails(&types.ProjectDetailsReq{Id: 5, Reports: 10})
			if err != nil {
				t.Errorf("client %d: %v", i, err)
			}
			results[i] = resp
		}()
	}
	// Let every client reach the flight before the load may finish.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for %d identical concurrent requests, want 1", n, clients)
	}

	// A coalesced response equals a fresh, uncoalesced load of the same record.
	fresh, err := load(context.Background(), s, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if !reflect.DeepEqual(r, fresh) {
			t.Fatalf("client %d got %+v, a fresh load gives %+v", i, r, fresh)
		}
	}
}

func TestCoalesce_NoCachingAfterTheLoad(t *testing.T) {
	var loads atomic.Int64
	release := make(chan struct{})
	close(release)
	s := gatedSvc(t, &loads, release)
	for range 3 {
		if _, err := project.NewGetProjectDetailsLogic(auth.Attach(context.Background(), auth.Anonymous), s).
			GetProjectDetails(&types.ProjectDetailsReq{Id: 5, Reports: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if n := loads.Load(); n != 3 {
		t.Fatalf("%d loads for 3 sequential requests, want 3 (no result may outlive its load)", n)
	}
}

func TestCoalesce_FollowerSurvivesLeaderCancel(t *testing.T) {
	var loads atomic.Int64
	release := make(chan struct{})
	s := gatedSvc(t, &loads, release)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := project.NewGetProjectDetailsLogic(auth.Attach(leaderCtx, auth.Anonymous), s).GetProjectDetails(&types.ProjectDetailsReq{Id: 5, Reports: 10})
		leaderDone <- err
	}()
	for loads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	followerDone := make(chan error, 1)
	go func() {
		_, err := project.NewGetProjectDetailsLogic(auth.Attach(context.Background(), auth.Anonymous), s).GetProjectDetails(&types.ProjectDetailsReq{Id: 5, Reports: 10})
		followerDone <- err
	}()
	time.Sleep(50 * time.Millisecond) // the follower joins the leader's flight
	cancelLeader()
	if err := <-leaderDone; err == nil {
		t.Fatal("the canceled leader succeeded")
	}
	close(release)
	select {
	case err := <-followerDone:
		if err != nil {
			t.Fatalf("the follower inherited its leader's cancellation: %v", err)
		}
	case <-time.After(waitBound):
		t.Fatal("the follower never finished")
	}
}
