// Number formats of the report, shared by the template (render.go), the
// chart and the progress lines.

package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMs is a duration in milliseconds with three significant figures.
func fmtMs(d time.Duration) string {
	switch v := msf(d); {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// fmtInt is n with thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// frac is a ÷ b (NaN for b = 0).
func frac(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func shortDur(d time.Duration) string {
	switch {
	case d == 0:
		return "no limit"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func dbShort(v string) string {
	if i := strings.Index(v, "-MariaDB"); i > 0 {
		return "MariaDB " + v[:i]
	}
	return "MySQL " + v
}

// spread is (max - min) / median of the runs' throughput.
func spread(s bench.Summary) float64 {
	lo, hi := s.RangeRPS()
	if len(s.Runs) < 2 || s.RPS == 0 {
		return 0
	}
	return (hi - lo) / s.RPS
}

// errNote is " (N errors: detail)", or nothing without errors.
func errNote(s bench.Summary) string {
	if s.Errors == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d errors: %s)", s.Errors, s.ErrorDetail)
}

func orNone(s string) string {
	if s == "" {
		return "no errors"
	}
	return s
}
