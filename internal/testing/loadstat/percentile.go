// Package loadstat summarises load runs for the benchmark and the soak
// test: latency percentiles and medians, and the resident memory of a
// process sampled while it serves.
package loadstat

import (
	"slices"
	"time"
)

// Percentile is the p-th percentile (0 < p ≤ 100) of sorted, by nearest
// rank; 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Median of v (the mean of the middle two for an even count); 0 for none.
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

// Latencies is the distribution of a set of request durations.
type Latencies struct {
	Count              int
	P50, P90, P99, Max time.Duration
}

// Summarize sorts d in place and summarises it.
func Summarize(d []time.Duration) Latencies {
	slices.Sort(d)
	l := Latencies{Count: len(d), P50: Percentile(d, 50), P90: Percentile(d, 90), P99: Percentile(d, 99)}
	if len(d) > 0 {
		l.Max = d[len(d)-1]
	}
	return l
}
