package bench

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/auth"
	projectlogic "github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
	"github.com/clinicaldata/projectsvc/internal/types"
)

// Bare is the "bare client": goroutines calling the project logic
// directly on a ServiceContext — the service's three queries over the same
// kind of pool, without HTTP, JSON or middlewares. Each call gets the
// request timeout as its deadline, like a request behind the rest Timeout
// middleware, so the SQL sent (server-side deadline included) is the same.
type Bare struct {
	Svc      *svc.ServiceContext
	Projects int
	Reports  int
	Timeout  time.Duration
	Seed     uint64
}

// Run loads random projects from conc goroutines for d.
func (b Bare) Run(ctx context.Context, conc int, d time.Duration) Result {
	before := b.Svc.Store.PrimaryStats()
	res := closedLoop(ctx, conc, 0, d, b.Seed, func(r *rand.Rand) answer {
		cctx, cancel := context.WithTimeout(ctx, b.Timeout)
		defer cancel()
		t0 := time.Now()
		if _, err := b.load(cctx, uint64(1+r.IntN(b.Projects))); err != nil {
			return answer{took: time.Since(t0), err: err}
		}
		return answer{took: time.Since(t0), status: http.StatusOK}
	})
	after := b.Svc.Store.PrimaryStats()
	res.WaitCount = after.WaitCount - before.WaitCount
	res.WaitDuration = after.WaitDuration - before.WaitDuration
	res.MaxLifetimeClosed = after.MaxLifetimeClosed - before.MaxLifetimeClosed
	return res
}

// ReadAll loads every project once, from conc goroutines; it returns the
// first failure.
func (b Bare) ReadAll(ctx context.Context, conc int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for id := 1; id <= b.Projects; id++ {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, b.Timeout)
			defer cancel()
			_, err := b.load(cctx, uint64(id))
			return err
		})
	}
	return g.Wait()
}

// RoundTrips measures single reads, one at a time, through s's pool: the
// median latency of each of the three queries of a record (n calls each,
// random projects). One read is one database round trip — the least a
// record can cost when its three reads overlap perfectly.
func (b Bare) RoundTrips(ctx context.Context, n int) (project, sites, reports time.Duration, err error) {
	r := rand.New(rand.NewPCG(b.Seed, 1<<40))
	reads := []func(context.Context, uint64) error{
		func(ctx context.Context, id uint64) error {
			_, err := b.Svc.Store.Primary().Project.FindOne(ctx, id)
			return err
		},
		func(ctx context.Context, id uint64) error {
			_, err := b.Svc.Store.Primary().ProjectInstitution.FindByProjectID(ctx, id, nil, b.Svc.Config.Record.Institutions+1)
			return err
		},
		func(ctx context.Context, id uint64) error {
			_, err := b.Svc.Store.Primary().ProjectReport.FindLatestByProjectID(ctx, id, nil, b.Reports+1)
			return err
		},
	}
	out := make([]time.Duration, len(reads))
	for i, read := range reads {
		lat := make([]time.Duration, 0, n)
		for range n {
			id := uint64(1 + r.IntN(b.Projects))
			cctx, cancel := context.WithTimeout(ctx, b.Timeout)
			t0 := time.Now()
			err := read(cctx, id)
			lat = append(lat, time.Since(t0))
			cancel()
			if err != nil {
				return 0, 0, 0, err
			}
		}
		out[i] = loadstat.Summarize(lat).P50
	}
	return out[0], out[1], out[2], nil
}

// load is one record through the service's logic (validation, coalescing
// when the context has it, the fan-out), as the handler calls it.
func (b Bare) load(ctx context.Context, id uint64) (*types.ProjectDetailsResp, error) {
	ctx = auth.Attach(ctx, auth.Anonymous) // what the Auth middleware attaches with Auth.Disabled
	return projectlogic.NewGetProjectDetailsLogic(ctx, b.Svc).GetProjectDetails(&types.ProjectDetailsReq{Id: int64(id), Reports: int64(b.Reports)})
}
