package bench

import (
	"context"
	"strings"
	"testing"
)

// Fatal ends the body and Do reports it; cleanups run last first on Close.
func TestTB(t *testing.T) {
	tb := NewTB(context.Background(), "x", func(string) {})
	var order []int
	reached := false
	err := tb.Do(func(tb *TB) {
		tb.Cleanup(func() { order = append(order, 1) })
		tb.Cleanup(func() { order = append(order, 2) })
		tb.Fatalf("boom %d", 7)
		reached = true
	})
	if err == nil || !strings.Contains(err.Error(), "boom 7") || reached {
		t.Errorf("Do = %v, after Fatal reached = %v", err, reached)
	}
	if err := tb.Do(func(*TB) {}); err != nil {
		t.Errorf("a later body reports an earlier failure: %v", err)
	}
	if err := tb.Close(); err != nil || len(order) != 2 || order[0] != 2 || tb.Context().Err() == nil {
		t.Errorf("Close = %v, cleanups ran %v, context %v", err, order, tb.Context().Err())
	}
}
