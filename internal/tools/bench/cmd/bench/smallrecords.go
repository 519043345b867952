package main

import (
	"fmt"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// smallClients is the concurrency of issue 11's measurement.
const smallClients = 32

// smallRecords: over the small data set, the service as shipped, the
// service without load shedding and the plain baseline, alternated; the
// plain baseline's answers are first checked to be the service's, byte
// for byte.
func (e *env) smallRecords() error {
	shipped, err := bench.StartService(e.small.dsn, bench.Variant{Name: "shipped"})
	if err != nil {
		return err
	}
	defer shipped.Close()
	off, err := bench.StartService(e.small.dsn, bench.Variant{Name: "shedding off", Overrides: []string{bench.SheddingOff}})
	if err != nil {
		return err
	}
	defer off.Close()
	plain, err := bench.StartPlain(e.ctx, shipped.Svc.Config)
	if err != nil {
		return err
	}
	defer plain.Close()

	paths := samplePaths(e.small.spec.Projects)
	if err := bench.SameAnswers(e.ctx, off.URL, plain.URL, off.Variant.Header, paths); err != nil {
		return fmt.Errorf("the plain baseline does not answer as the service does: %w", err)
	}
	load := random(e.small, shipped.Variant.HeaderLines())
	sums, err := e.compare(smallClients, e.serviceArm(shipped, e.small), e.serviceArm(off, e.small), e.wrkArm(plain.URL, plain.DB.Stats, load))
	if err != nil {
		return err
	}
	out := &SmallRecords{Clients: smallClients, Command: e.command(smallClients, load(0)), BodiesCompared: len(paths),
		Shipped: sums[0], SheddingOff: sums[1], Plain: sums[2]}
	logf("  shipped %.0f/s (%d errors) | shedding off %.0f/s (%d errors) | plain %.0f/s (%d errors)",
		out.Shipped.RPS, out.Shipped.Errors, out.SheddingOff.RPS, out.SheddingOff.Errors, out.Plain.RPS, out.Plain.Errors)
	if out.Profile, err = e.profile("small-records", e.serviceArm(off, e.small), smallClients, "", 0); err != nil {
		return err
	}
	e.rep.SmallRecords = out
	return nil
}

// samplePaths are requests for 50 ids spread over the data set, and a few
// with the smallest and largest ?reports=.
func samplePaths(projects int) []string {
	var paths []string
	for i := range 50 {
		paths = append(paths, fmt.Sprintf("/project/%d?reports=%d", 1+i*projects/50, reportsParam))
	}
	for _, n := range []int{1, 100} {
		paths = append(paths, fmt.Sprintf("/project/%d?reports=%d", projects, n), fmt.Sprintf("/project/1?reports=%d", n))
	}
	return paths
}
