package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// TB is a testing.TB for the bench program, so it can use the test
// harnesses that take one (internal/testing/replicatest). Do runs a body
// as a test would: Fatal and Skip end it (runtime.Goexit on its own
// goroutine) and Do returns the failure; Close runs the cleanups. Only
// what the harnesses call is implemented: the other methods of testing.TB
// panic (the embedded interface is nil).
type TB struct {
	testing.TB
	name string
	log  func(string) // where Log and Logf go

	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	errs     []error
	skipped  bool
	cleanups []func()
}

// NewTB returns a TB named name whose Context is ctx's child; log gets its
// Log lines.
func NewTB(ctx context.Context, name string, log func(string)) *TB {
	t := &TB{name: name, log: log}
	t.ctx, t.cancel = context.WithCancel(ctx)
	return t
}

// Do runs f(t) on a goroutine of its own and returns how it failed, if it
// did (a Skip is an error too: the bench needs what was skipped).
func (t *TB) Do(f func(*TB)) error {
	t.mu.Lock()
	before := len(t.errs)
	t.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t)
	}()
	<-done
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.errs[before:]...)
}

// Close runs the cleanups, the last registered first, and cancels Context.
func (t *TB) Close() error {
	t.mu.Lock()
	cs, before := t.cleanups, len(t.errs)
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		_ = t.Do(func(*TB) { cs[i]() })
	}
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.errs[before:]...)
}

func (t *TB) Helper()                      {}
func (t *TB) Name() string                 { return t.name }
func (t *TB) Context() context.Context     { return t.ctx }
func (t *TB) Log(args ...any)              { t.log(fmt.Sprint(args...)) }
func (t *TB) Logf(format string, a ...any) { t.log(fmt.Sprintf(format, a...)) }
func (t *TB) Error(args ...any)            { t.fail(errors.New(fmt.Sprint(args...))) }
func (t *TB) Errorf(format string, a ...any) {
	t.fail(fmt.Errorf(format, a...))
}
func (t *TB) Fatal(args ...any)              { t.Error(args...); runtime.Goexit() }
func (t *TB) Fatalf(format string, a ...any) { t.Errorf(format, a...); runtime.Goexit() }
func (t *TB) Fail()                          { t.fail(errors.New(t.name + ": failed")) }
func (t *TB) FailNow()                       { t.Fail(); runtime.Goexit() }
func (t *TB) Skip(args ...any)               { t.skip(fmt.Sprint(args...)) }
func (t *TB) Skipf(format string, a ...any)  { t.skip(fmt.Sprintf(format, a...)) }
func (t *TB) SkipNow()                       { t.skip("skipped") }

func (t *TB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.errs) > 0
}

func (t *TB) Skipped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}

func (t *TB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *TB) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, err)
}

func (t *TB) skip(why string) {
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	t.fail(errors.New("skipped: " + why))
	runtime.Goexit()
}
