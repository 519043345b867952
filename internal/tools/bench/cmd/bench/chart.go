package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed chart.gp
var chartScript string

var chart = template.Must(template.New("chart.gp").Parse(chartScript))

// plot draws docs/performance.png with gnuplot: latency and throughput of
// the shipped pool and go-zero's against the number of clients
// (poolDefaults); its data and script are left in work.
func plot(r *Report, png, work string) error {
	var data strings.Builder
	data.WriteString("# clients p50_def_ms p99_def_ms rps_def p50_gz_ms p99_gz_ms rps_gz\n")
	for _, l := range r.PoolDefaults.Levels {
		fmt.Fprintf(&data, "%d %.3f %.3f %.1f %.3f %.3f %.1f\n", l.Clients,
			msf(l.Defaults.P50), msf(l.Defaults.P99), l.Defaults.RPS, msf(l.GoZero.P50), msf(l.GoZero.P99), l.GoZero.RPS)
	}
	dataPath, scriptPath := filepath.Join(work, "performance.dat"), filepath.Join(work, "performance.gp")
	if err := os.WriteFile(dataPath, []byte(data.String()), 0o644); err != nil {
		return err
	}
	var script strings.Builder
	err := chart.Execute(&script, map[string]string{
		"PNG": png, "Data": dataPath,
		"Title": fmt.Sprintf("GET /project/:id, random ids: service pool defaults vs go-zero's built-in pool\nmedians of %d × %s runs; wrk, service and %s share %d cores; %s",
			r.Runs, r.Duration, dbShort(r.Machine.DBVersion), r.Machine.Cores, r.Started.Format("2006-01-02")),
		"Defaults": fmt.Sprintf("service defaults (%d/%d conns, %s/%s)", r.Shipped.MaxOpenConns, r.Shipped.MaxIdleConns,
			shortDur(r.Shipped.ConnMaxLifetime), shortDur(r.Shipped.ConnMaxIdleTime)),
		"GoZero": fmt.Sprintf("go-zero built-in pool (%d/%d conns, %s)", r.GoZero.MaxOpenConns, r.GoZero.MaxIdleConns, shortDur(r.GoZero.ConnMaxLifetime)),
	})
	if err == nil {
		err = os.WriteFile(scriptPath, []byte(script.String()), 0o644)
	}
	if err != nil {
		return err
	}
	if out, err := exec.Command("gnuplot", scriptPath).CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, out)
	}
	return nil
}
