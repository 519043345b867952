package bench_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/prometheus"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// BenchmarkGetProject measures one GET /project/{id}?reports=10 from the
// router to the JSON body: the real server (server.New: every go-zero
// middleware, the guard, the error table) over in-memory fakes with a
// record shaped like the bench data set's median project (32 sites, 10
// reports). It is the service's own CPU and allocation cost per request,
// without the database, the driver or the network. Run by `make bench`
// (scenario costPerRequest); there is no timing assertion.
func BenchmarkGetProject(b *testing.B) {
	c, err := bench.BaseConfig() // the shipped config
	if err != nil {
		b.Fatal(err)
	}
	// As configured: access log at info (formatted, then discarded here) and
	// Prometheus metrics on; the dev server itself is not started.
	if err := logx.SetUp(c.Log); err != nil {
		b.Fatal(err)
	}
	logx.SetWriter(logx.NewWriter(io.Discard))
	prometheus.Enable()

	s, err := svc.NewServiceContext(c, store.WithModels(bench.FakeModels(bench.LargeRecords, 32, 10)))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(s)
	if err != nil {
		b.Fatal(err)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/project/42?reports=10", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	sl.Serve(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	size := rec.Body.Len()

	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{header: make(http.Header)} // a real server makes a header map per request too
		sl.Serve(w, req)
		if w.status != http.StatusOK || w.written != size {
			b.Fatalf("status %d, %d bytes; want 200, %d bytes", w.status, w.written, size)
		}
	}
	b.ReportMetric(float64(size), "resp-bytes")
}

// discardWriter is an http.ResponseWriter that keeps the status, the header
// and the byte count and drops the body. httptest.ResponseRecorder keeps
// the body in a buffer of its own (~15 KB per request, counted in B/op);
// a real http.Server writes it into the connection's bufio.Writer, which
// allocates nothing per request.
type discardWriter struct {
	header  http.Header
	status  int
	written int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.written += len(p)
	return len(p), nil
}

// Flush is a no-op, as a real server's writer is an http.Flusher.
func (w *discardWriter) Flush() {}
