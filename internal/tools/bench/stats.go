package bench

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is one measured run of one load.
type Result struct {
	Requests int64 // answered successfully (2xx); RPS is Requests per second
	Errors   int64 // failed requests: non-2xx answers and socket errors/timeouts
	Duration time.Duration
	RPS      float64
	P50, P90 time.Duration
	P99, Max time.Duration
	// ErrorDetail breaks Errors down (e.g. "status=3 timeout=0").
	ErrorDetail string
	// WaitCount and WaitDuration are the pool's sql.DBStats deltas over the run.
	WaitCount    int64
	WaitDuration time.Duration
	// MaxLifetimeClosed is the pool's delta of connections closed for age
	// (in a Summary: the total over its runs).
	MaxLifetimeClosed int64
}

// Summary is the median over repeated runs of one load: every figure is
// the median of that figure over the runs; error counts are summed.
type Summary struct {
	Runs []Result
	Result
}

// Summarize takes the per-figure medians of runs.
func Summarize(runs []Result) Summary {
	s := Summary{Runs: runs}
	if len(runs) == 0 {
		return s
	}
	dur := func(f func(Result) time.Duration) time.Duration {
		v := make([]time.Duration, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return Median(v)
	}
	num := func(f func(Result) int64) int64 {
		v := make([]int64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		return Median(v)
	}
	rps := make([]float64, len(runs))
	for i, r := range runs {
		rps[i] = r.RPS
		s.Errors += r.Errors
		if r.ErrorDetail != "" {
			if s.ErrorDetail != "" {
				s.ErrorDetail += "; "
			}
			s.ErrorDetail += r.ErrorDetail
		}
	}
	s.RPS = Median(rps)
	s.Requests = num(func(r Result) int64 { return r.Requests })
	s.Duration = dur(func(r Result) time.Duration { return r.Duration })
	s.P50 = dur(func(r Result) time.Duration { return r.P50 })
	s.P90 = dur(func(r Result) time.Duration { return r.P90 })
	s.P99 = dur(func(r Result) time.Duration { return r.P99 })
	s.Max = dur(func(r Result) time.Duration { return r.Max })
	s.WaitCount = num(func(r Result) int64 { return r.WaitCount })
	s.WaitDuration = dur(func(r Result) time.Duration { return r.WaitDuration })
	for _, r := range runs {
		s.MaxLifetimeClosed += r.MaxLifetimeClosed
	}
	return s
}

// RangeP99 is the lowest and highest p99 over the runs.
func (s Summary) RangeP99() (lo, hi time.Duration) {
	for i, r := range s.Runs {
		if i == 0 || r.P99 < lo {
			lo = r.P99
		}
		if r.P99 > hi {
			hi = r.P99
		}
	}
	return lo, hi
}

// RangeRPS is the lowest and highest throughput over the runs.
func (s Summary) RangeRPS() (lo, hi float64) {
	for i, r := range s.Runs {
		if i == 0 || r.RPS < lo {
			lo = r.RPS
		}
		if r.RPS > hi {
			hi = r.RPS
		}
	}
	return lo, hi
}

// Median of v (the mean of the middle two for an even count).
func Median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// RSSSampler records the process's peak VmRSS while it runs.
type RSSSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  int64
	sum  int64
	n    int64
}

// SampleRSS starts sampling /proc/self/status every interval.
func SampleRSS(interval time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if kb, ok := VmRSS(); ok {
				s.mu.Lock()
				s.max = max(s.max, kb)
				s.sum += kb
				s.n++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak and mean VmRSS in KiB.
func (s *RSSSampler) Stop() (peakKiB, meanKiB int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, 0
	}
	return s.max, s.sum / s.n
}

// VmRSS is the process's resident set size in KiB (Linux).
func VmRSS() (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
