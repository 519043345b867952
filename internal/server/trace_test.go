package server_test

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// TestTracing_ThreeReadsAreChildSpansOfTheRequest: with a tracer provider
// installed (go-zero installs one when Telemetry.Endpoint is configured),
// the request's server span has the three reads as children.
func TestTracing_ThreeReadsAreChildSpansOfTheRequest(t *testing.T) {
	exporter := servicetest.RecordSpans(t)

	ts := newTestServer(t, time.Second, seeded())
	if res := servicetest.Get(t, ts.URL+"/project/1"); res.Status != http.StatusOK {
		t.Fatalf("status %d", res.Status)
	}
	spans := exporter.GetSpans()
	var server *tracetest.SpanStub
	for i := range spans {
		if spans[i].SpanKind == oteltrace.SpanKindServer {
			server = &spans[i]
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d spans", len(spans))
	}
	reads := map[string]bool{}
	for _, s := range spans {
		if s.Parent.SpanID() == server.SpanContext.SpanID() && s.SpanContext.TraceID() == server.SpanContext.TraceID() {
			reads[s.Name] = true
		}
	}
	for _, want := range []string{"read project", "read institutions", "read reports"} {
		if !reads[want] {
			t.Errorf("no child span %q of the request span %q; children: %v", want, server.Name, reads)
		}
	}
}
