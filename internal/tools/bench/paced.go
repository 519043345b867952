package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Paced is one client at a fixed, low rate over one keep-alive connection,
// for the latency a calm client sees while others load the service (not
// for throughput): it sends a request every 1/Rate seconds, the next one
// at once when an answer took longer than that — but never catching up
// with a burst, so it never sends more than Rate a second — and times the
// 2xx answers. A 429 (its quota used up) is an error, counted apart in
// Limited.
type Paced struct {
	Projects, Reports int
	Header            map[string]string // sent with every request
	Timeout           time.Duration     // per request
	Rate              float64           // requests per second
}

// Run loads uniformly random projects (the stream of seed) at p.Rate for d.
func (p Paced) Run(ctx context.Context, url string, d time.Duration, seed uint64) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: p.Timeout}
	c := Client{Header: p.Header, Timeout: p.Timeout}
	r := rand.New(rand.NewPCG(seed, 0))
	interval := time.Duration(float64(time.Second) / p.Rate)

	var res Result
	var ok []time.Duration
	start := time.Now()
	deadline := start.Add(d)
	for next := start; ctx.Err() == nil; {
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			break
		}
		a := c.get(ctx, hc, fmt.Sprintf("%s/project/%d?reports=%d", url, 1+r.IntN(p.Projects), p.Reports))
		switch {
		case a.err == nil && a.status/100 == 2:
			ok = append(ok, a.took)
		case a.status == http.StatusTooManyRequests:
			res.Errors++
			res.Limited++
		default:
			res.Errors++
			if a.status == http.StatusServiceUnavailable {
				res.Unavailable++
			}
			if res.ErrorDetail == "" {
				err := a.err
				if err == nil {
					err = fmt.Errorf("status %d", a.status)
				}
				res.ErrorDetail = "first error: " + err.Error()
			}
		}
		if next = next.Add(interval); next.Before(time.Now()) {
			next = time.Now() // late: the next one at once, no burst to catch up
		}
	}
	res.setLatencies(ok)
	res.Duration = time.Since(start)
	res.RPS = float64(res.Requests) / res.Duration.Seconds()
	return res
}
