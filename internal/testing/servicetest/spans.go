package servicetest

import (
	"testing"

	"github.com/zeromicro/go-zero/core/trace"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// RecordSpans installs a tracer provider that keeps every span in memory
// (go-zero installs one when Telemetry.Endpoint is configured) until t
// ends, and returns where the spans go.
func RecordSpans(t testing.TB) *tracetest.InMemoryExporter {
	t.Helper()
	// go-zero sets its own global provider once per process, the first
	// time a config is set up: let that happen before installing ours.
	trace.StartAgent(trace.Config{})
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(prev)
		_ = tp.Shutdown(t.Context())
	})
	return exporter
}
