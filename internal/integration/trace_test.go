package integration

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// TestTracing_EveryReadHasItsSQLSpan: on a real database, each of the three
// read spans has go-zero's "sql" client span inside (the service scans rows
// itself; the span must stay).
func TestTracing_EveryReadHasItsSQLSpan(t *testing.T) {
	exporter := servicetest.RecordSpans(t)
	s := servicetest.Start(t, servicetest.Config(t, dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql")), "Coalesce: false"))
	if res := servicetest.Get(t, s.URL+"/project/1"); res.Status != http.StatusOK {
		t.Fatalf("status %d", res.Status)
	}
	spans := exporter.GetSpans()
	reads := map[oteltrace.SpanID]string{}
	for _, sp := range spans {
		if len(sp.Name) > 5 && sp.Name[:5] == "read " {
			reads[sp.SpanContext.SpanID()] = sp.Name
		}
	}
	if len(reads) != 3 {
		t.Fatalf("read spans %v, want 3", reads)
	}
	withSQL := map[string]bool{}
	for _, sp := range spans {
		name, underRead := reads[sp.Parent.SpanID()]
		if !underRead || sp.Name != "sql" || sp.SpanKind != oteltrace.SpanKindClient {
			continue
		}
		for _, a := range sp.Attributes {
			if a.Key == attribute.Key("sql.method") && (a.Value.AsString() == "QueryRow" || a.Value.AsString() == "QueryRows") {
				withSQL[name] = true
			}
		}
	}
	for _, name := range reads {
		if !withSQL[name] {
			t.Errorf("%q has no sql client span with sql.method inside; spans: %d", name, len(spans))
		}
	}
}
