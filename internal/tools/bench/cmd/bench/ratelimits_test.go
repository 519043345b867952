package main

import (
	"bufio"
	"strings"
	"testing"
)

// The rate limiter's counters are read from a service process's /metrics
// as Prometheus writes them.
func TestRateCountsFromMetricsText(t *testing.T) {
	text := `# HELP project_rate_decisions_total Rate-limit decisions.
# TYPE project_rate_decisions_total counter
project_rate_decisions_total{result="allowed",where="shared"} 1200
project_rate_decisions_total{result="limited",where="shared"} 3.5e+06
project_rate_decisions_total{result="allowed",where="local"} 40
project_rate_limited_total{client="bench-flood"} 3.5e+06
project_rate_limited_total{client="bench"} 0
project_rate_transitions_total{to="local"} 2
project_rate_transitions_total{to="shared"} 2
project_rate_shared 1
go_goroutines 12
`
	ss, err := parseMetrics(bufio.NewScanner(strings.NewReader(text)))
	if err != nil {
		t.Fatal(err)
	}
	got := rateCounts(ss)
	want := []int64{3_501_200, 40, 3_500_000, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("rateCounts = %v, want %v", got, want)
		}
	}
	if n := ss.sum(metricLimited, "client", "bench-flood"); n != 3_500_000 {
		t.Errorf("429s of bench-flood: %d", n)
	}
	if n := ss.sum(metricLimited, "client", "bench"); n != 0 {
		t.Errorf("429s of bench: %d", n)
	}
	if n := ss.sum("project_rate_shared"); n != 1 {
		t.Errorf("project_rate_shared: %d", n)
	}
}
