// Rendering docs/PERFORMANCE.md: report.md.tmpl and the functions it uses.

package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"text/template"
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

//go:embed report.md.tmpl
var reportTemplate string

var reportPage = template.Must(template.New("report.md.tmpl").Funcs(template.FuncMap{
	"ms":         fmtMs,
	"us":         fmtUs,
	"frac":       frac,
	"errNote":    errNote,
	"orNone":     orNone,
	"base":       filepath.Base,
	"join":       strings.Join,
	"int":        func(v any) string { return fmtInt(int64(number(v))) },
	"div":        func(a, b any) float64 { return number(a) / number(b) },
	"add":        func(a, b int64) int64 { return a + b },
	"sub":        func(a, b int64) int64 { return a - b },
	"subd":       func(a, b time.Duration) time.Duration { return a - b },
	"perRequest": perRequest,
	"pct":        func(share float64) float64 { return share * 100 },
	"mib":        func(bytes int64) int64 { return bytes >> 20 },
	"sec":        func(d time.Duration) time.Duration { return d.Round(time.Second) },
	"decisec":    func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) },
	// little is the mean latency of a closed loop of clients at rps (Little's law).
	"little": func(clients int, rps float64) time.Duration {
		return time.Duration(float64(clients) / rps * float64(time.Second))
	},
	"halfSpread": func(s bench.Summary) float64 { return spread(s) * 50 },
	"rpsRange": func(s bench.Summary) string {
		lo, hi := s.RangeRPS()
		return fmt.Sprintf("%.0f–%.0f", lo, hi)
	},
	"p99Range": func(s bench.Summary) string {
		lo, hi := s.RangeP99()
		return fmtMs(lo) + "–" + fmtMs(hi)
	},
	"reportsParam":  func() int { return reportsParam },
	"roundTripRuns": func() int { return roundTripRuns },
}).Parse(reportTemplate))

// number is a template argument of any numeric kind as a float64.
func number(v any) float64 {
	switch r := reflect.ValueOf(v); {
	case r.CanInt():
		return float64(r.Int())
	case r.CanUint():
		return float64(r.Uint())
	case r.CanFloat():
		return r.Float()
	}
	panic(fmt.Sprintf("not a number: %v (%T)", v, v))
}

// Markdown renders docs/PERFORMANCE.md.
func (r *Report) Markdown() ([]byte, error) {
	var b bytes.Buffer
	if err := reportPage.Execute(&b, r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// LimitedRow is one arm of cpuLimited as its table shows it.
type LimitedRow struct {
	Name string
	LimitedArm
	VsOff float64 // goodput ÷ the shedding-off arm's
}

// Rows are cpuLimited's arms.
func (c *CPULimited) Rows() []LimitedRow {
	return []LimitedRow{
		{"as shipped", c.Shipped, c.Shipped.RPS / c.Off.RPS},
		{"shedding off", c.Off, 1},
	}
}
