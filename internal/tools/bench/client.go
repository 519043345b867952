package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// Client is a closed-loop HTTP load in Go, for what wrk does not report:
// response headers (Retry-After on a 503) and the latency of the accepted
// (2xx) requests alone. Each of its connections is one client, as in wrk:
// it sends a request, reads the whole answer, and sends the next.
type Client struct {
	Projects, Reports int
	Header            map[string]string // sent with every request
	Timeout           time.Duration     // per request
	// LeadIn is load at the start of every run that is not tallied.
	LeadIn time.Duration
}

// Run loads uniformly random projects over conns connections for LeadIn,
// then for d, measured.
func (c Client) Run(ctx context.Context, url string, conns int, d time.Duration, seed uint64) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: c.Timeout}
	return closedLoop(ctx, conns, c.LeadIn, d, seed, func(r *rand.Rand) answer {
		return c.get(ctx, hc, fmt.Sprintf("%s/project/%d?reports=%d", url, 1+r.IntN(c.Projects), c.Reports))
	})
}

// get sends one request and reads the whole answer.
func (c Client) get(ctx context.Context, hc *http.Client, url string) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answer{err: err}
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	t0 := time.Now()
	res, err := hc.Do(req)
	if err != nil {
		return answer{took: time.Since(t0), err: err}
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return answer{took: time.Since(t0), err: err}
	}
	a := answer{took: time.Since(t0), status: res.StatusCode, retryAfter: res.Header.Get("Retry-After") != ""}
	if a.status/100 != 2 && a.status != http.StatusServiceUnavailable {
		a.err = fmt.Errorf("status %d", a.status)
	}
	return a
}
