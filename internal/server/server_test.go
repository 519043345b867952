package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/leakcheck"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/model"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// seeded fakes: project 1 exists with one institution and two reports,
// project 2 exists with none, anything else is missing.
func seeded() fakeModels {
	at := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	return fakeModels{
		project: func(ctx context.Context, id uint64) (*model.Project, error) {
			if id != 1 && id != 2 {
				return nil, model.ErrNotFound
			}
			return &model.Project{Id: id, Code: "CTP-2024-017", Title: "A trial", Phase: "III", Status: "recruiting",
				Sponsor: "Acme", CreatedAt: at, UpdatedAt: at}, nil
		},
		institutions: func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			if id != 1 {
				return []*model.ProjectInstitutionDetail{}, nil
			}
			return []*model.ProjectInstitutionDetail{{Id: 7, Code: "INST-7", Name: "Alpha", Role: "lead", JoinedAt: at}}, nil
		},
		reports: func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
			if id != 1 {
				return []*model.ProjectReport{}, nil
			}
			reports := []*model.ProjectReport{
				{Id: 9002, ProjectId: 1, Title: "Enrolment", ReportType: "progress", CreatedAt: at},
				{Id: 9001, ProjectId: 1, Title: "DSMB", ReportType: "safety", CreatedAt: at},
			}
			return reports[:min(limit, len(reports))], nil
		},
	}
}

// fakeModels are the finders of the three models a record is read from;
// a nil one is not faked (its calls fail with fakes.ErrNotFaked).
type fakeModels struct {
	project      func(ctx context.Context, id uint64) (*model.Project, error)
	institutions func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error)
	reports      func(ctx context.Context, id uint64, limit int) ([]*model.ProjectReport, error)
}

func (m fakeModels) install(s *store.Models) {
	s.Project = fakes.Project(m.project)
	s.ProjectInstitution = fakes.AllInstitutions(m.institutions)
	s.ProjectReport = fakes.LatestReports(m.reports)
}

// newTestServer serves the real router, middlewares and error table over
// fake models, with the shipped configuration and the given request timeout.
func newTestServer(t testing.TB, timeout time.Duration, m fakeModels) *servicetest.Service {
	t.Helper()
	c := servicetest.Config(t, servicetest.NoDatabase, fmt.Sprintf("Timeout: %d", timeout.Milliseconds()))
	return servicetest.Start(t, c, store.WithModels(m.install))
}

func TestGetProject_400OnBadInput(t *testing.T) {
	ts := newTestServer(t, time.Second, fakeModels{}) // never reaches a model
	for _, tc := range []struct{ name, path, mentions string }{
		{"get400IDNotANumber", "/project/abc", `"abc"`},
		{"get400IDNegative", "/project/-1", "positive"},
		{"get400IDZero", "/project/0", "positive"},
		{"get400IDFraction", "/project/1.5", `"1.5"`},
		{"get400IDOverflow", "/project/9223372036854775808", "out of range"},
		{"get400ReportsZero", "/project/1?reports=0", "reports"},
		{"get400ReportsTooMany", "/project/1?reports=101", "reports"},
		{"get400ReportsNotANumber", "/project/1?reports=x", `"x"`},
		{"get400ReportsNegative", "/project/1?reports=-5", "reports"},
		{"get400ReportsRepeated", "/project/1?reports=5&reports=6", "more than once"},
		{"get400ReportsPlainAndArray", "/project/1?reports=5&reports[]=50", "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := servicetest.Get(t, ts.URL+tc.path)
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status = %d (%s), want 400", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			code, msg := servicetest.ErrorBody(t, res.Body)
			if code != "invalid_argument" {
				t.Errorf("code = %q, want invalid_argument", code)
			}
			if !strings.Contains(msg, tc.mentions) {
				t.Errorf("message %q does not mention %q", msg, tc.mentions)
			}
		})
	}
}

func TestGetProject_200(t *testing.T) {
	ts := newTestServer(t, time.Second, seeded())
	res := servicetest.Get(t, ts.URL+"/project/1")
	if res.Status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", res.Status, res.Body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
		t.Fatal(err)
	}
	project := got["project"].(map[string]any)
	if project["id"] != float64(1) || project["code"] != "CTP-2024-017" || project["created_at"] != "2024-03-01T09:30:00Z" {
		t.Errorf("project = %v", project)
	}
	if v, ok := project["end_date"]; !ok || v != nil {
		t.Errorf("end_date = %v (present %v), want null", v, ok)
	}
	sites := got["institutions"].([]any)
	if len(sites) != 1 || sites[0].(map[string]any)["joined_at"] != "2024-03-01T09:30:00Z" {
		t.Errorf("institutions = %v", sites)
	}
	if reports := got["reports"].([]any); len(reports) != 2 || reports[0].(map[string]any)["id"] != float64(9002) {
		t.Errorf("reports = %v", reports)
	}
}

func TestGetProject_200EmptyListsAreArrays(t *testing.T) {
	for _, tc := range []struct {
		name         string
		institutions []*model.ProjectInstitutionDetail
	}{{"emptySlices", []*model.ProjectInstitutionDetail{}}, {"nilSlices", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			m := seeded()
			m.institutions = func(context.Context, uint64) ([]*model.ProjectInstitutionDetail, error) { return tc.institutions, nil }
			m.reports = func(context.Context, uint64, int) ([]*model.ProjectReport, error) { return nil, nil }
			ts := newTestServer(t, time.Second, m)
			res := servicetest.Get(t, ts.URL+"/project/2")
			if res.Status != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.Status)
			}
			if !strings.Contains(res.Body, `"institutions":[]`) || !strings.Contains(res.Body, `"reports":[]`) {
				t.Fatalf("empty lists are not []: %s", res.Body)
			}
		})
	}
}

func TestGetProject_404WhenMissing(t *testing.T) {
	ts := newTestServer(t, time.Second, seeded())
	res := servicetest.Get(t, ts.URL+"/project/404")
	if res.Status != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", res.Status)
	}
	code, msg := servicetest.ErrorBody(t, res.Body)
	if code != "not_found" || !strings.Contains(msg, "404") {
		t.Fatalf("body = %s, want not_found naming the id", res.Body)
	}
}

func TestGetProject_404JSONForUnknownRoute(t *testing.T) {
	ts := newTestServer(t, time.Second, seeded())
	res := servicetest.Get(t, ts.URL+"/studies")
	if code, _ := servicetest.ErrorBody(t, res.Body); res.Status != http.StatusNotFound || code != "not_found" {
		t.Fatalf("got %d %s, want 404 not_found", res.Status, res.Body)
	}
}

func TestGetProject_500OnPanicAndServiceLives(t *testing.T) {
	m := seeded()
	m.reports = func(context.Context, uint64, int) ([]*model.ProjectReport, error) {
		panic("injected: report read exploded")
	}
	ts := newTestServer(t, time.Second, m)
	res := servicetest.Get(t, ts.URL+"/project/1")
	if res.Status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.Status)
	}
	if code, _ := servicetest.ErrorBody(t, res.Body); code != "internal" {
		t.Fatalf("code = %s, want internal", code)
	}
	if strings.Contains(res.Body, "exploded") {
		t.Fatalf("panic text reached the client: %s", res.Body)
	}
	// The process is alive and serves: a route not touching the panicking read.
	if res := servicetest.Get(t, ts.URL+"/project/abc"); res.Status != http.StatusBadRequest {
		t.Fatalf("after a panic, status = %d, want 400", res.Status)
	}
}

func TestGetProject_504AtTheDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	block := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ts := newTestServer(t, timeout, fakeModels{
		func(ctx context.Context, id uint64) (*model.Project, error) { return nil, block(ctx) },
		func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			return nil, block(ctx)
		},
		func(ctx context.Context, id uint64, n int) ([]*model.ProjectReport, error) { return nil, block(ctx) },
	})
	start := time.Now()
	res := servicetest.Get(t, ts.URL+"/project/1")
	elapsed := time.Since(start)
	if res.Status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d (%s), want 504", res.Status, res.Body)
	}
	if code, _ := servicetest.ErrorBody(t, res.Body); code != "timeout" {
		t.Fatalf("code = %s, want timeout", code)
	}
	if elapsed < timeout || elapsed > 4*timeout {
		t.Fatalf("answered after %s, want between the timeout (%s) and 4x it", elapsed, timeout)
	}
}

func TestGetProject_503CarriesRetryAfterAndJSON(t *testing.T) {
	refused := func(ctx context.Context) error {
		// What the driver returns when the server's port is closed.
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	ts := newTestServer(t, time.Second, fakeModels{
		func(ctx context.Context, id uint64) (*model.Project, error) { return nil, refused(ctx) },
		func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) { return nil, nil },
		func(ctx context.Context, id uint64, n int) ([]*model.ProjectReport, error) { return nil, nil },
	})
	res := servicetest.Get(t, ts.URL+"/project/1")
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After=%q, want 503 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
	if code, _ := servicetest.ErrorBody(t, res.Body); code != "unavailable" {
		t.Fatalf("code = %s, want unavailable", code)
	}
}

// TestGetProject_504AtTheDeadlineWhateverTheHandler: the deadline answers
// even when a read ignores its context, and a client asking for an event
// stream (which go-zero's own timeout exempts) gets it too.
func TestGetProject_504AtTheDeadlineWhateverTheHandler(t *testing.T) {
	const timeout = 200 * time.Millisecond
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deaf := func() { <-release } // ignores ctx: only the test's end releases it
	ts := newTestServer(t, timeout, fakeModels{
		func(ctx context.Context, id uint64) (*model.Project, error) { deaf(); return nil, ctx.Err() },
		func(ctx context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
			deaf()
			return nil, ctx.Err()
		},
		func(ctx context.Context, id uint64, n int) ([]*model.ProjectReport, error) {
			deaf()
			return nil, ctx.Err()
		},
	})
	for _, accept := range []string{"application/json", "text/event-stream"} {
		start := time.Now()
		res := servicetest.Do(t, http.MethodGet, ts.URL+"/project/1", http.Header{"Accept": {accept}})
		elapsed := time.Since(start)
		if res.Status != http.StatusGatewayTimeout || servicetest.ErrorCode(t, res.Body) != "timeout" {
			t.Fatalf("Accept %s: %d %s, want 504 timeout", accept, res.Status, res.Body)
		}
		if elapsed < timeout || elapsed > 4*timeout {
			t.Fatalf("Accept %s: answered after %s, want between the timeout (%s) and 4x it", accept, elapsed, timeout)
		}
	}
}
