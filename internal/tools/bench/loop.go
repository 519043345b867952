package bench

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
)

// answer is how one request of a closed loop ended.
type answer struct {
	took       time.Duration
	status     int // HTTP status (200 for a bare load that succeeded); 0 with err
	retryAfter bool
	err        error
}

// tally is one client's answers.
type tally struct {
	ok, unavailable []time.Duration
	retryAfter      int64
	failed          int64 // neither 2xx nor 503
	firstErr        error
}

// closedLoop runs conns clients, each sending its next request (send, with
// the client's own random stream from seed) as soon as the last one was
// answered: for leadIn, untallied, then for d. Latencies are those of the
// 2xx answers.
func closedLoop(ctx context.Context, conns int, leadIn, d time.Duration, seed uint64, send func(*rand.Rand) answer) Result {
	tallies := make([]tally, conns)
	var wg sync.WaitGroup
	start := time.Now().Add(leadIn)
	deadline := start.Add(d)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				tallied := time.Now().After(start)
				a := send(r)
				if t := &tallies[i]; tallied && ctx.Err() == nil {
					t.add(a)
				}
			}
		}()
	}
	wg.Wait()
	var res Result
	var ok, unavailable []time.Duration
	for _, t := range tallies {
		ok, unavailable = append(ok, t.ok...), append(unavailable, t.unavailable...)
		res.Errors += t.failed + int64(len(t.unavailable))
		res.RetryAfter += t.retryAfter
		if t.firstErr != nil && res.ErrorDetail == "" {
			res.ErrorDetail = "first error: " + t.firstErr.Error()
		}
	}
	res.setLatencies(ok)
	res.Duration = time.Since(start)
	res.RPS = float64(res.Requests) / res.Duration.Seconds()
	res.Unavailable, res.UnavailableP99 = int64(len(unavailable)), loadstat.Summarize(unavailable).P99
	return res
}

func (t *tally) add(a answer) {
	switch {
	case a.err == nil && a.status/100 == 2:
		t.ok = append(t.ok, a.took)
	case a.status == http.StatusServiceUnavailable:
		t.unavailable = append(t.unavailable, a.took)
		if a.retryAfter {
			t.retryAfter++
		}
	default:
		t.failed++
		if t.firstErr == nil {
			t.firstErr = a.err
		}
	}
}
