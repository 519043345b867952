package bench

import (
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
)

// Result is one measured run of one load.
type Result struct {
	Requests int64 // answered successfully (2xx); RPS is Requests per second
	Errors   int64 // failed requests: non-2xx answers and socket errors/timeouts
	Duration time.Duration
	RPS      float64
	// Latencies: of every answer under wrk; of the 2xx answers alone under
	// the Go client (Client).
	P50, P90 time.Duration
	P99, Max time.Duration
	// ErrorDetail breaks Errors down (e.g. "non-2xx=3 timeout=0").
	ErrorDetail string
	// Unavailable (of Errors) are the 503 answers, RetryAfter those of them
	// with a Retry-After header, UnavailableP99 how long they took: counted
	// by the Go client only.
	Unavailable, RetryAfter int64
	UnavailableP99          time.Duration
	// Limited (of Errors) are the 429 answers (a client's quota used up):
	// counted by the paced client (Paced) only.
	Limited int64
	// CPU is the CPU time the server used and PeakRSS its peak resident
	// memory in bytes during the run, where measured (a service process).
	CPU     time.Duration
	PeakRSS int64
	// LoadCPU is the CPU time of the load generator (wrk) during the run.
	LoadCPU time.Duration
	// WaitCount and WaitDuration are the pool's sql.DBStats deltas over the run.
	WaitCount    int64
	WaitDuration time.Duration
	// MaxLifetimeClosed is the pool's delta of connections closed for age
	// (in a Summary: the total over its runs).
	MaxLifetimeClosed int64
}

// Summary is the median over repeated runs of one load: every figure is
// the median of that figure over the runs; counts of failures are summed.
type Summary struct {
	Runs []Result
	Result
}

// median is the median over runs of one figure.
func median[T int64 | float64 | time.Duration](runs []Result, f func(Result) T) T {
	v := make([]T, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	return loadstat.Median(v)
}

// Summarize takes the per-figure medians of runs.
func Summarize(runs []Result) Summary {
	s := Summary{Runs: runs}
	if len(runs) == 0 {
		return s
	}
	for _, r := range runs {
		s.Errors += r.Errors
		s.Unavailable += r.Unavailable
		s.RetryAfter += r.RetryAfter
		s.Limited += r.Limited
		s.MaxLifetimeClosed += r.MaxLifetimeClosed
		if r.ErrorDetail != "" {
			if s.ErrorDetail != "" {
				s.ErrorDetail += "; "
			}
			s.ErrorDetail += r.ErrorDetail
		}
	}
	s.RPS = median(runs, func(r Result) float64 { return r.RPS })
	s.Requests = median(runs, func(r Result) int64 { return r.Requests })
	s.WaitCount = median(runs, func(r Result) int64 { return r.WaitCount })
	for dst, f := range map[*time.Duration]func(Result) time.Duration{
		&s.Duration: func(r Result) time.Duration { return r.Duration },
		&s.P50:      func(r Result) time.Duration { return r.P50 },
		&s.P90:      func(r Result) time.Duration { return r.P90 },
		&s.P99:      func(r Result) time.Duration { return r.P99 },
		&s.Max:      func(r Result) time.Duration { return r.Max },

		&s.UnavailableP99: func(r Result) time.Duration { return r.UnavailableP99 },
		&s.WaitDuration:   func(r Result) time.Duration { return r.WaitDuration },
	} {
		*dst = median(runs, f)
	}
	return s
}

// Total is the successful requests of all runs.
func (s Summary) Total() int64 {
	var n int64
	for _, r := range s.Runs {
		n += r.Requests
	}
	return n
}

// RangeP99 is the lowest and highest p99 over the runs.
func (s Summary) RangeP99() (lo, hi time.Duration) {
	return span(s.Runs, func(r Result) time.Duration { return r.P99 })
}

// RangeRPS is the lowest and highest throughput over the runs.
func (s Summary) RangeRPS() (lo, hi float64) {
	return span(s.Runs, func(r Result) float64 { return r.RPS })
}

func span[T float64 | time.Duration](runs []Result, f func(Result) T) (lo, hi T) {
	for i, r := range runs {
		v := f(r)
		if i == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi
}

// setLatencies sets the request count and latency figures from d (sorted in place).
func (r *Result) setLatencies(d []time.Duration) {
	l := loadstat.Summarize(d)
	r.Requests, r.P50, r.P90, r.P99, r.Max = int64(l.Count), l.P50, l.P90, l.P99, l.Max
}
