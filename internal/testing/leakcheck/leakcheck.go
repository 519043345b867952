// Package leakcheck runs goleak over a test binary, ignoring only the
// process-wide goroutines go-zero starts in its package init functions
// (signal handling, CPU usage sampling) and per rest.Server, which live
// as long as the process by design.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Ignored lists go-zero's process-lifetime goroutines.
var Ignored = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/zeromicro/go-zero/core/proc.init.1.func1"),
	goleak.IgnoreTopFunction("github.com/zeromicro/go-zero/core/stat.init.1.func1"),
	// Each rest.Server starts a load-shedding stat loop and metric flushers
	// that run for the life of the process (go-zero has no way to stop them).
	goleak.IgnoreTopFunction("github.com/zeromicro/go-zero/core/load.(*SheddingStat).loop"),
	goleak.IgnoreTopFunction("github.com/zeromicro/go-zero/core/executors.(*PeriodicalExecutor).backgroundFlush.func1"),
}

// Main is goleak.VerifyTestMain with the ignored list: use it as TestMain.
func Main(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, append(append([]goleak.Option{}, Ignored...), extra...)...)
}

// Check fails t if goroutines other than the ignored ones outlive the test.
func Check(t testing.TB, extra ...goleak.Option) {
	t.Helper()
	if err := goleak.Find(append(append([]goleak.Option{}, Ignored...), extra...)...); err != nil {
		t.Error(err)
	}
}

// After checks for leaked goroutines once a test binary's tests have run with
// exit code code (use it when TestMain needs its own setup and teardown); it
// returns the code to exit with, non-zero if anything leaked.
func After(code int, extra ...goleak.Option) int {
	if code != 0 {
		return code
	}
	if err := goleak.Find(append(append([]goleak.Option{}, Ignored...), extra...)...); err != nil {
		fmt.Fprintln(os.Stderr, "leakcheck:", err)
		return 1
	}
	return 0
}
