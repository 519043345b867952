package server

import (
	"strings"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
)

// go-zero writes two error lines of its own for every request its shedder
// refuses: core/load's "dropreq, cpu: …" and rest/handler's "[http]
// dropped, …". Under overload that is thousands of lines a second, on top
// of each refusal's access line: the log floods, and writing them spends
// the CPU that shedding exists to save (16 % of an overloaded 0.25-CPU
// process's samples in `make bench`'s cpuLimited scenario without this
// writer, 5 % with it — the refusals' own access lines).
// shedLogEvery is how often each of the two still reaches the log.
const shedLogEvery = time.Second

var shedLinePrefixes = [...]string{"dropreq, ", "[http] dropped, "}

// shedLogWriter passes every log line through to the writer it wraps,
// except that each of go-zero's two per-refusal lines is written at most
// once per shedLogEvery, with a "suppressed" field counting the ones left
// out since the last. Every refusal still has its access line and is
// counted in the metrics (http_server_requests_code_total{code="503"}).
type shedLogWriter struct {
	logx.Writer

	mu         sync.Mutex
	last       [len(shedLinePrefixes)]time.Time
	suppressed [len(shedLinePrefixes)]int
	now        func() time.Time
}

// quietShedding wraps logx's current writer in a shedLogWriter, once: a
// process that builds several servers (the tests) wraps it only the first
// time.
func quietShedding() {
	w := logx.Reset()
	if w == nil {
		return // logging is off (or not set up): nothing to wrap
	}
	if _, ok := w.(*shedLogWriter); !ok {
		w = &shedLogWriter{Writer: w, now: time.Now}
	}
	logx.SetWriter(w)
}

func (w *shedLogWriter) Error(v any, fields ...logx.LogField) {
	if s, ok := v.(string); ok {
		for i, prefix := range shedLinePrefixes {
			if !strings.HasPrefix(s, prefix) {
				continue
			}
			now := w.now()
			w.mu.Lock()
			if now.Sub(w.last[i]) < shedLogEvery {
				w.suppressed[i]++
				w.mu.Unlock()
				return
			}
			n := w.suppressed[i]
			w.last[i], w.suppressed[i] = now, 0
			w.mu.Unlock()
			if n > 0 {
				fields = append(fields, logx.Field("suppressed", n))
			}
			break
		}
	}
	w.Writer.Error(v, fields...)
}
