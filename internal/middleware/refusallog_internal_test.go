package middleware

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/logx/logtest"
)

// refusalLines are the rate-limit refusal lines written to buf.
func refusalLines(t *testing.T, buf *logtest.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["content"] == "request refused: rate limit" {
			out = append(out, m)
		}
	}
	return out
}

// TestRefusalLog_OneLineASecondCountingWhatItLeftOut: a flood of 429s
// writes the first refusal, then at most one line a second, each with the
// number of refusals left out since the one before.
func TestRefusalLog_OneLineASecondCountingWhatItLeftOut(t *testing.T) {
	buf := logtest.NewCollector(t)
	logx.SetLevel(logx.InfoLevel)
	var l refusalLog
	for range 5 {
		l.refused("etl")
	}
	lines := refusalLines(t, buf)
	if len(lines) != 1 || lines[0]["client"] != "etl" || lines[0]["suppressed"] != float64(0) {
		t.Fatalf("5 refusals within a second: lines %v, want one naming etl, 0 left out", lines)
	}
	// A second later (the last line's time moved back), the next refusal
	// is written with the 4 left out.
	l.mu.Lock()
	l.last = l.last.Add(-time.Second)
	l.mu.Unlock()
	l.refused("etl")
	if lines = refusalLines(t, buf); len(lines) != 2 || lines[1]["suppressed"] != float64(4) {
		t.Fatalf("lines %v, want a second line with 4 left out", lines)
	}
	l.refused("etl")
	if lines = refusalLines(t, buf); len(lines) != 2 {
		t.Fatalf("a refusal right after a line was written: %d lines, want it left out", len(lines))
	}
	// Half a second after: still left out.
	l.mu.Lock()
	l.last = time.Now().Add(-500 * time.Millisecond)
	l.mu.Unlock()
	l.refused("etl")
	if lines = refusalLines(t, buf); len(lines) != 2 {
		t.Fatalf("a refusal 0.5 s after the last line: %d lines, want it left out", len(lines))
	}
}

func TestRefusalLog_ALongClientIDIsCut(t *testing.T) {
	buf := logtest.NewCollector(t)
	logx.SetLevel(logx.InfoLevel)
	var l refusalLog
	long := strings.Repeat("c", 64)
	l.refused(long)
	l.last = time.Time{}
	l.refused(long + "x")
	lines := refusalLines(t, buf)
	if len(lines) != 2 || lines[0]["client"] != long || lines[1]["client"] != long+"..." {
		t.Fatalf("lines %v, want a 64-character id whole and a longer one cut at 64", lines)
	}
}
