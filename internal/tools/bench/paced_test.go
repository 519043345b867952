package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The paced client keeps to its rate on one connection, never catching up
// with a burst, and counts 429s apart from its other errors.
func TestPacedKeepsItsRateAndCounts429s(t *testing.T) {
	var served, limited atomic.Int64
	conns := map[string]bool{}
	connCh := make(chan string, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connCh <- r.RemoteAddr
		if r.Header.Get("Authorization") != "Bearer calm" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch n := served.Add(1); {
		case n == 3:
			time.Sleep(300 * time.Millisecond) // late: the next request goes at once, no burst
		case n%5 == 0:
			limited.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	p := Paced{Projects: 10, Reports: 1, Header: map[string]string{"Authorization": "Bearer calm"}, Timeout: 5 * time.Second, Rate: 20}
	r := p.Run(context.Background(), srv.URL, time.Second, 1)
	close(connCh)
	for c := range connCh {
		conns[c] = true
	}
	all := served.Load()
	// 1 s at 20/s is 20 requests; the 300 ms answer loses 5 of them (no
	// catching up), a busy machine a few more.
	if all < 8 || all > 16 {
		t.Errorf("%d requests in 1 s at 20/s with one answer taking 300 ms, want about 15 (and never more than 20 - 5)", all)
	}
	if len(conns) != 1 {
		t.Errorf("%d connections, want 1", len(conns))
	}
	if r.Limited != limited.Load() || r.Errors != r.Limited || r.Requests != all-limited.Load() {
		t.Errorf("result %+v for %d answers, %d of them 429", r, all, limited.Load())
	}
	if r.Max < 300*time.Millisecond || r.P50 >= 300*time.Millisecond {
		t.Errorf("p50 %s, max %s: want the slow answer as the max only", r.P50, r.Max)
	}
}
