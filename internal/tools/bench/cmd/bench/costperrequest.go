package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/clinicaldata/projectsvc/internal/testing/loadstat"
)

// costPerRequest runs BenchmarkGetProject (internal/tools/bench/getproject_test.go).
func (e *env) costPerRequest() error {
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkGetProject$", "-benchmem", "-count", strconv.Itoa(max(*runs, 3)), "./internal/tools/bench/"}
	logf("  go %s", strings.Join(args, " "))
	out, err := exec.CommandContext(e.ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test: %w\n%s", err, out)
	}
	c, err := parseGoBench(string(out))
	if err != nil {
		return err
	}
	c.Command = "go " + strings.Join(args, " ")
	logf("  %.0f ns/op, %.0f B/op, %.0f allocs/op", c.NsOp, c.BytesOp, c.AllocsOp)
	e.rep.CostPerRequest = c
	return nil
}

// parseGoBench takes the medians of go test -bench output's figures.
func parseGoBench(out string) (*CostPerRequest, error) {
	figures := map[string][]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "BenchmarkGetProject") {
			continue
		}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				figures[f[i+1]] = append(figures[f[i+1]], v)
			}
		}
	}
	for _, unit := range []string{"ns/op", "B/op", "allocs/op"} {
		if len(figures[unit]) == 0 {
			return nil, fmt.Errorf("no BenchmarkGetProject %s in:\n%s", unit, out)
		}
	}
	return &CostPerRequest{Raw: out, NsOp: loadstat.Median(figures["ns/op"]), BytesOp: loadstat.Median(figures["B/op"]),
		AllocsOp: loadstat.Median(figures["allocs/op"]), RespBytes: loadstat.Median(figures["resp-bytes"])}, nil
}
