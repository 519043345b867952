package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	projectlogic "github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/svc"
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
	before := b.Svc.DB.Stats()
	lat := make([][]time.Duration, conc)
	errCount := make([]int64, conc)
	firstErr := make([]error, conc)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(b.Seed, uint64(g)))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				id := uint64(1 + r.IntN(b.Projects))
				cctx, cancel := context.WithTimeout(ctx, b.Timeout)
				t0 := time.Now()
				_, err := b.load(cctx, id)
				lat[g] = append(lat[g], time.Since(t0))
				cancel()
				if err != nil {
					errCount[g]++
					if firstErr[g] == nil {
						firstErr[g] = err
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := b.Svc.DB.Stats()

	var all []time.Duration
	var res Result
	for g := range conc {
		all = append(all, lat[g]...)
		res.Errors += errCount[g]
		if firstErr[g] != nil && res.ErrorDetail == "" {
			res.ErrorDetail = fmt.Sprintf("first error: %v", firstErr[g])
		}
	}
	slices.Sort(all)
	res.Requests = int64(len(all))
	res.Duration = elapsed
	res.RPS = float64(len(all)) / elapsed.Seconds()
	res.P50, res.P90, res.P99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	res.WaitCount = after.WaitCount - before.WaitCount
	res.WaitDuration = after.WaitDuration - before.WaitDuration
	res.MaxLifetimeClosed = after.MaxLifetimeClosed - before.MaxLifetimeClosed
	return res
}

// ReadAll loads every project once, from conc goroutines; it returns how
// many loads failed and the first error.
func (b Bare) ReadAll(ctx context.Context, conc int) (int64, error) {
	var next, failed atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				id := next.Add(1)
				if id > int64(b.Projects) {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, b.Timeout)
				_, err := b.load(cctx, uint64(id))
				cancel()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load(), first
}

// RoundTrips measures single reads, one at a time, through s's pool: the
// median latency of each of the three queries of a record (n calls each,
// random projects). One read is one database round trip — the least a
// record can cost when its three reads overlap perfectly.
func (b Bare) RoundTrips(ctx context.Context, n int) (project, sites, reports time.Duration, err error) {
	r := rand.New(rand.NewPCG(b.Seed, 1<<40))
	reads := []func(context.Context, uint64) error{
		func(ctx context.Context, id uint64) error { _, err := b.Svc.ProjectModel.FindOne(ctx, id); return err },
		func(ctx context.Context, id uint64) error {
			_, err := b.Svc.ProjectInstitutionModel.FindAllByProjectID(ctx, id)
			return err
		},
		func(ctx context.Context, id uint64) error {
			_, err := b.Svc.ProjectReportModel.FindLatestByProjectID(ctx, id, b.Reports)
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
		slices.Sort(lat)
		out[i] = percentile(lat, 50)
	}
	return out[0], out[1], out[2], nil
}

// load is one record through the service's logic (validation, coalescing
// when the context has it, the fan-out), as the handler calls it.
func (b Bare) load(ctx context.Context, id uint64) (*types.ProjectDetailsResp, error) {
	return projectlogic.NewGetProjectDetailsLogic(ctx, b.Svc).GetProjectDetails(&types.ProjectDetailsReq{Id: int64(id), Reports: int64(b.Reports)})
}
