package audit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/model"
)

// trail is an audit.Writer whose commits the test decides: each append
// waits in pending until the test answers it (commit, or fail).
type trail struct {
	mu       sync.Mutex
	rows     []*model.AccessAudit
	outcomes []*model.AccessAuditOutcome
	pending  []chan error
	fail     error
	auto     bool // answer every append at once with fail
}

func (t *trail) AppendRows(rows []*model.AccessAudit) <-chan error {
	return t.append(func() { t.rows = append(t.rows, rows...) })
}

func (t *trail) AppendOutcome(o *model.AccessAuditOutcome) <-chan error {
	return t.append(func() { t.outcomes = append(t.outcomes, o) })
}

func (t *trail) append(keep func()) <-chan error {
	t.mu.Lock()
	defer t.mu.Unlock()
	done := make(chan error, 1)
	if t.auto {
		if t.fail == nil {
			keep()
		}
		done <- t.fail
		return done
	}
	inner := make(chan error, 1)
	t.pending = append(t.pending, inner)
	go func() {
		err := <-inner
		if err == nil {
			t.mu.Lock()
			keep()
			t.mu.Unlock()
		}
		done <- err
	}()
	return done
}

// commitAll answers every pending append with err.
func (t *trail) commitAll(err error) int {
	t.mu.Lock()
	p := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, c := range p {
		c <- err
	}
	return len(p)
}

func (t *trail) snapshot() ([]*model.AccessAudit, []*model.AccessAuditOutcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*model.AccessAudit(nil), t.rows...), append([]*model.AccessAuditOutcome(nil), t.outcomes...)
}

var caller = &auth.Principal{Subject: "svc-trial-office", ClientID: "trial-office", ReadAll: true}

// request begins and arms a request's record for a verified caller, as the
// guard, the Audit middleware and Auth do.
func request(t *testing.T, w audit.Writer, header http.Header) (context.Context, *audit.Record) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/project/7", nil)
	for k, v := range header {
		r.Header[k] = v
	}
	ctx, rec := audit.Begin(r)
	rec.SetRoute("/project/:id")
	ctx = audit.Arm(ctx, w)
	ctx = auth.Attach(ctx, caller)
	return ctx, rec
}

// finishAsync runs Finish in the background, reporting when it returns.
func finishAsync(rec *audit.Record, status int) <-chan error {
	done := make(chan error, 1)
	go func() { done <- rec.Finish(status) }()
	return done
}

func TestDisclose_RowsLeaveAtOnceAndTheAnswerWaitsForTheirCommit(t *testing.T) {
	w := &trail{}
	ctx, rec := request(t, w, nil)
	if err := audit.Disclose(ctx, auth.ScopeReadAll, 7); err != nil {
		t.Fatal(err)
	}
	finished := finishAsync(rec, http.StatusOK)
	select {
	case err := <-finished:
		t.Fatalf("Finish returned (%v) before the rows committed", err)
	case <-time.After(50 * time.Millisecond):
	}
	if n := w.commitAll(nil); n != 1 {
		t.Fatalf("%d appends pending, want the one announcement", n)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	rows, outcomes := w.snapshot()
	if len(rows) != 1 || len(outcomes) != 0 {
		t.Fatalf("rows %v outcomes %v, want one row and no outcome (the answer was the announced one)", rows, outcomes)
	}
	r := rows[0]
	if r.RequestId != rec.ID || !r.ProjectId.Valid || r.ProjectId.Int64 != 7 || r.Status != 200 || r.GrantedBy != auth.ScopeReadAll ||
		r.Subject != caller.Subject || r.ClientId != caller.ClientID || r.Method != http.MethodGet || r.Route != "/project/:id" {
		t.Fatalf("row %+v", r)
	}
	if time.Since(r.OccurredAt) > time.Minute || r.OccurredAt.Location() != time.UTC || r.OccurredAt.Nanosecond()%1000 != 0 {
		t.Fatalf("occurred_at %v is not now in UTC to the microsecond", r.OccurredAt)
	}
}

func TestFinish_AnAnswerOtherThanTheAnnouncedOneAppendsItsStatus(t *testing.T) {
	for _, tc := range []struct {
		name        string
		conditional bool
		status      int
		outcome     uint64 // 0: none
	}{
		{"missing404", false, http.StatusNotFound, 404},
		{"deadline504", false, http.StatusGatewayTimeout, 504},
		{"readFailed503", false, http.StatusServiceUnavailable, 503},
		{"conditionalAnswered304", true, http.StatusNotModified, 0},
		{"conditionalChanged200", true, http.StatusOK, 200},
		{"unconditional304", false, http.StatusNotModified, 304},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &trail{auto: true}
			var h http.Header
			if tc.conditional {
				h = http.Header{"If-None-Match": {`"abc"`}}
			}
			ctx, rec := request(t, w, h)
			if err := audit.Disclose(ctx, auth.ScopeReadAll, 7); err != nil {
				t.Fatal(err)
			}
			if err := rec.Finish(tc.status); err != nil {
				t.Fatal(err)
			}
			rows, outcomes := w.snapshot()
			announced := uint64(http.StatusOK)
			if tc.conditional {
				announced = http.StatusNotModified
			}
			if len(rows) != 1 || rows[0].Status != announced {
				t.Fatalf("rows %+v, want one announcing %d", rows, announced)
			}
			switch {
			case tc.outcome == 0 && len(outcomes) != 0:
				t.Fatalf("outcomes %+v, want none", outcomes)
			case tc.outcome != 0 && (len(outcomes) != 1 || outcomes[0].Status != tc.outcome || outcomes[0].RequestId != rec.ID):
				t.Fatalf("outcomes %+v, want one saying %d for request %s", outcomes, tc.outcome, rec.ID)
			}
		})
	}
}

func TestFinish_TheOutcomeIsWrittenOnlyAfterTheAnnouncementCommitted(t *testing.T) {
	w := &trail{}
	ctx, rec := request(t, w, nil)
	if err := audit.Disclose(ctx, auth.ScopeReadAll, 7); err != nil {
		t.Fatal(err)
	}
	finished := finishAsync(rec, http.StatusNotFound)
	time.Sleep(20 * time.Millisecond)
	if _, outcomes := w.snapshot(); len(outcomes) != 0 || len(w.pending) != 1 {
		t.Fatalf("the outcome was handed over before the announcement committed")
	}
	w.commitAll(nil) // the announcement
	if !eventually(func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.pending) == 1 }) {
		t.Fatal("no outcome handed over after the announcement committed")
	}
	select {
	case err := <-finished:
		t.Fatalf("Finish returned (%v) before the outcome committed", err)
	case <-time.After(20 * time.Millisecond):
	}
	w.commitAll(nil)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
}

func TestFinish_FailsWhenItsRowsCannotBeWritten(t *testing.T) {
	refused := errors.New("INSERT command denied")
	t.Run("announcement", func(t *testing.T) {
		w := &trail{auto: true, fail: refused}
		ctx, rec := request(t, w, nil)
		if err := audit.Disclose(ctx, auth.ScopeReadAll, 7); err != nil {
			t.Fatal(err)
		}
		if err := rec.Finish(http.StatusOK); !errors.Is(err, refused) {
			t.Fatalf("Finish = %v, want the trail's error", err)
		}
		if _, outcomes := w.snapshot(); len(outcomes) != 0 {
			t.Fatal("an outcome was written for an announcement that failed")
		}
	})
	t.Run("row", func(t *testing.T) {
		w := &trail{auto: true, fail: refused}
		_, rec := request(t, w, nil)
		if err := rec.Finish(http.StatusBadRequest); !errors.Is(err, refused) {
			t.Fatalf("Finish = %v, want the trail's error", err)
		}
	})
}

func TestAskedFor_ARefusalNamesTheProjectWithNoGrant(t *testing.T) {
	w := &trail{auto: true}
	ctx, rec := request(t, w, nil)
	audit.AskedFor(ctx, 9)
	if err := rec.Finish(http.StatusNotFound); err != nil {
		t.Fatal(err)
	}
	rows, outcomes := w.snapshot()
	if len(rows) != 1 || rows[0].ProjectId.Int64 != 9 || rows[0].GrantedBy != "" || rows[0].Status != 404 || len(outcomes) != 0 {
		t.Fatalf("rows %+v outcomes %+v, want one 404 row naming project 9 with no grant", rows, outcomes)
	}
}

func TestFinish_AnAnswerNamingNoProjectLeavesOneRowWithout(t *testing.T) {
	w := &trail{auto: true}
	_, rec := request(t, w, nil)
	if err := rec.Finish(http.StatusBadRequest); err != nil {
		t.Fatal(err)
	}
	rows, _ := w.snapshot()
	if len(rows) != 1 || rows[0].ProjectId.Valid || rows[0].Status != 400 {
		t.Fatalf("rows %+v, want one 400 row with no project", rows)
	}
}

func TestDisclose_APageDisclosesEveryProjectOnIt(t *testing.T) {
	w := &trail{auto: true}
	ctx, rec := request(t, w, nil)
	if err := audit.Disclose(ctx, auth.ScopeRead, 3, 5, 8); err != nil {
		t.Fatal(err)
	}
	if err := rec.Finish(http.StatusOK); err != nil {
		t.Fatal(err)
	}
	rows, _ := w.snapshot()
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for i, id := range []int64{3, 5, 8} {
		if rows[i].ProjectId.Int64 != id || rows[i].RequestId != rec.ID || rows[i].GrantedBy != auth.ScopeRead {
			t.Fatalf("row %d %+v, want project %d of request %s", i, rows[i], id, rec.ID)
		}
	}
	if err := audit.Disclose(ctx, auth.ScopeRead, 9); err == nil {
		t.Fatal("a second disclosure after the answer was decided was accepted")
	}
}

func TestFinish_TheFirstToFinishDecidesAndNothingIsDisclosedAfter(t *testing.T) {
	w := &trail{auto: true}
	ctx, rec := request(t, w, nil)
	if err := rec.Finish(http.StatusGatewayTimeout); err != nil { // the deadline answered
		t.Fatal(err)
	}
	if err := audit.Disclose(ctx, auth.ScopeReadAll, 7); !errors.Is(err, audit.ErrFinished) {
		t.Fatalf("Disclose after the answer = %v, want ErrFinished", err)
	}
	if err := rec.Finish(http.StatusOK); err != nil { // the handler, late
		t.Fatal(err)
	}
	rows, outcomes := w.snapshot()
	if len(rows) != 1 || rows[0].Status != 504 || rows[0].ProjectId.Valid || len(outcomes) != 0 {
		t.Fatalf("rows %+v outcomes %+v, want only the 504's row", rows, outcomes)
	}
}

func TestRecord_NothingIsAuditedWithoutAVerifiedCallerOrATrail(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(ctx context.Context, w audit.Writer) context.Context
	}{
		{"notArmed", func(ctx context.Context, _ audit.Writer) context.Context { return auth.Attach(ctx, caller) }},
		{"noTrail", func(ctx context.Context, _ audit.Writer) context.Context {
			return auth.Attach(audit.Arm(ctx, nil), caller)
		}},
		{"noCaller401", func(ctx context.Context, w audit.Writer) context.Context { return audit.Arm(ctx, w) }},
		{"anonymous", func(ctx context.Context, w audit.Writer) context.Context {
			return auth.Attach(audit.Arm(ctx, w), auth.Anonymous)
		}},
		{"unaudited429", func(ctx context.Context, w audit.Writer) context.Context {
			ctx = auth.Attach(audit.Arm(ctx, w), caller)
			audit.Unaudited(ctx)
			return ctx
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &trail{auto: true}
			ctx, rec := audit.Begin(httptest.NewRequest(http.MethodGet, "/project/7", nil))
			ctx = tc.arm(ctx, w)
			err := audit.Disclose(ctx, auth.ScopeReadAll, 7)
			if (err != nil) != (tc.name == "unaudited429") {
				t.Fatalf("Disclose = %v; only an answer declared to disclose nothing refuses it", err)
			}
			if err := rec.Finish(http.StatusOK); err != nil {
				t.Fatal(err)
			}
			if rows, outcomes := w.snapshot(); len(rows)+len(outcomes) != 0 {
				t.Fatalf("rows %+v outcomes %+v, want none", rows, outcomes)
			}
		})
	}
	if err := audit.Disclose(context.Background(), auth.ScopeReadAll, 7); err != nil {
		t.Fatalf("outside a request (no record): %v, want a no-op", err)
	}
}

func TestBegin_EachRequestGetsItsOwnID(t *testing.T) {
	seen := map[string]bool{}
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for range 1000 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Request-Id", "chosen-by-the-client")
		r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		_, rec := audit.Begin(r)
		if !hex32.MatchString(rec.ID) || seen[rec.ID] {
			t.Fatalf("request id %q: not 32 hex digits, or seen before", rec.ID)
		}
		seen[rec.ID] = true
	}
}

func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
