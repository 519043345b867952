package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zeromicro/go-zero/core/load"
	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/logx/logtest"
	"github.com/zeromicro/go-zero/core/stat"
	"github.com/zeromicro/go-zero/rest/handler"
)

// refusing is a shedder that refuses every request, as go-zero's adaptive
// shedder does under overload.
type refusing struct{}

func (refusing) Allow() (load.Promise, error) { return nil, load.ErrServiceOverloaded }

type logLine struct {
	Level      string `json:"level"`
	Content    string `json:"content"`
	Suppressed *int   `json:"suppressed"`
}

func lines(t *testing.T, b *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON log line: %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func count(ls []logLine, prefix string) (n int, suppressed []int) {
	for _, l := range ls {
		if strings.HasPrefix(l.Content, prefix) {
			n++
			if l.Suppressed != nil {
				suppressed = append(suppressed, *l.Suppressed)
			}
		}
	}
	return n, suppressed
}

// installShedLog puts a shedLogWriter over a buffer, with a clock the test
// moves, and restores logx's writer afterwards.
func installShedLog(t *testing.T) (*bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := logx.Reset()
	logx.SetWriter(&shedLogWriter{Writer: logx.NewWriter(&buf), now: func() time.Time { return now }})
	t.Cleanup(func() { logx.SetWriter(prev) })
	return &buf, &now
}

// go-zero's own shedding middleware, refusing: its "[http] dropped" line
// reaches the log once per second with the count of those left out, every
// refusal is still answered 503, and other lines are untouched.
func TestShedLog_GoZerosRefusalLinesOncePerSecond(t *testing.T) {
	buf, now := installShedLog(t)
	shed := handler.SheddingHandler(refusing{}, stat.NewMetrics("shedlog-test"))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a refused request reached the handler") }))
	refuse := func(n int) {
		for range n {
			rec := httptest.NewRecorder()
			shed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/project/1", nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("refused request answered %d, want 503", rec.Code)
			}
		}
	}

	refuse(50)
	for range 3 {
		logx.Error("the database does not answer") // an ordinary error line
		logx.Error("dropreq, cpu: 965, maxPass: 56, minRt: 490.00, hot: true, flying: 97, avgFlying: 96.27")
	}
	logx.Info("[HTTP] 503 - GET /project/1 - 127.0.0.1 - wrk")
	*now = now.Add(999 * time.Millisecond)
	refuse(10)
	ls := lines(t, buf)
	if n, _ := count(ls, "[http] dropped, "); n != 1 {
		t.Fatalf("%d \"[http] dropped\" lines for 60 refusals within a second, want 1:\n%s", n, buf)
	}
	if n, _ := count(ls, "dropreq, "); n != 1 {
		t.Fatalf("%d \"dropreq\" lines for 3 within a second, want 1:\n%s", n, buf)
	}
	if n, _ := count(ls, "the database does not answer"); n != 3 {
		t.Fatalf("%d ordinary error lines, want all 3:\n%s", n, buf)
	}
	if n, _ := count(ls, "[HTTP] 503"); n != 1 {
		t.Fatalf("the info line is missing:\n%s", buf)
	}

	*now = now.Add(time.Millisecond) // a second after the first line
	refuse(1)
	logx.Error("dropreq, cpu: 950")
	ls = lines(t, buf)
	if n, sup := count(ls, "[http] dropped, "); n != 2 || len(sup) != 1 || sup[0] != 59 {
		t.Fatalf("after a second: %d \"[http] dropped\" lines, suppressed counts %v; want 2 lines, the second with suppressed 59:\n%s", n, sup, buf)
	}
	if n, sup := count(ls, "dropreq, "); n != 2 || len(sup) != 1 || sup[0] != 2 {
		t.Fatalf("after a second: %d \"dropreq\" lines, suppressed counts %v; want 2 lines, the second with suppressed 2:\n%s", n, sup, buf)
	}
}

// quietShedding wraps logx's writer once, however many servers a process
// builds.
func TestShedLog_WrapsOnce(t *testing.T) {
	logtest.NewCollector(t) // the writer to wrap; restored after the test
	quietShedding()
	quietShedding()
	w := logx.Reset()
	defer logx.SetWriter(w)
	sw, ok := w.(*shedLogWriter)
	if !ok {
		t.Fatalf("logx's writer is %T, want the shedLogWriter", w)
	}
	if _, twice := sw.Writer.(*shedLogWriter); twice {
		t.Fatal("the shedLogWriter wraps another one")
	}
}
