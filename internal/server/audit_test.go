package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/model"
)

// securedWith is securedServer with the given models, request timeout and
// more overrides.
func securedWith(t *testing.T, m fakeModels, timeout time.Duration, overrides ...string) (*servicetest.Service, *oidctest.Issuer, *fakes.AuditTable) {
	t.Helper()
	iss := oidctest.Start(t, readsAll, readsOne, noProjects)
	audit := &fakes.AuditTable{}
	c := servicetest.Config(t, servicetest.NoDatabase, append([]string{servicetest.Issuer(iss.URL), servicetest.Timeout(timeout)}, overrides...)...)
	return servicetest.Start(t, c, store.WithModels(m.install), store.WithModels(audit.Install)), iss, audit
}

func statuses(rows []*model.AccessAudit) []uint64 {
	var s []uint64
	for _, r := range rows {
		s = append(s, r.Status)
	}
	return s
}

// TestAudit_TheDeadlineAndTheTrailAgree holds the record's audit INSERT
// longer than the request's deadline. Whoever answers, the trail names the
// status the client received: the deadline's 504 (its row written before
// it leaves); the handler's 200 when the reads were done first (sent once
// its row is committed, late); and a 503 with no record at all when the
// row cannot be written within the audit's own timeout.
func TestAudit_TheDeadlineAndTheTrailAgree(t *testing.T) {
	const timeout = 200 * time.Millisecond
	const held = 600 * time.Millisecond
	slow := seeded()
	slow.project = func(ctx context.Context, id uint64) (*model.Project, error) { <-ctx.Done(); return nil, ctx.Err() }

	for _, tc := range []struct {
		name   string
		m      fakeModels
		hold   time.Duration // 0: never released
		status int
		rows   []uint64
	}{
		{"deadlineFirst", slow, held, http.StatusGatewayTimeout, []uint64{504}},
		{"readsFirst", seeded(), held, http.StatusOK, []uint64{200}},
		{"trailNeverAnswers", slow, 0, http.StatusServiceUnavailable, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, iss, audit := securedWith(t, tc.m, timeout)
			h := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
			release := audit.Hold()
			defer release()
			if tc.hold > 0 {
				time.AfterFunc(tc.hold, release)
			}
			start := time.Now()
			res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h)
			took := time.Since(start)
			if res.Status != tc.status {
				t.Fatalf("status %d %s, want %d", res.Status, res.Body, tc.status)
			}
			if tc.status != http.StatusOK && (strings.Contains(res.Body, "CTP-") || res.Header.Get("ETag") != "") {
				t.Fatalf("the record left with a %d: %s", res.Status, res.Body)
			}
			switch {
			case tc.hold > 0 && took < tc.hold:
				t.Fatalf("answered after %s, before its row could be committed (%s)", took, tc.hold)
			case tc.hold == 0 && (took < 2*time.Second || took > 4*time.Second):
				t.Fatalf("answered after %s, want at the audit's 2 s write timeout", took)
			}
			// The answer left: its rows (and outcome) are committed now.
			if got := statuses(audit.Take()); !equalStatuses(got, tc.rows) {
				t.Fatalf("the trail says %v, want %v", got, tc.rows)
			}
		})
	}
}

func equalStatuses(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestAudit_EverySpellingOfAnIDIsRefusedOrAttributed: a project has one
// id, written one way. Another spelling is a 400 that names no project;
// the plain id is read and its row names the project read.
func TestAudit_EverySpellingOfAnIDIsRefusedOrAttributed(t *testing.T) {
	s, iss, audit := securedWith(t, seeded(), time.Second)
	for _, caller := range []struct {
		token string
		grant string
	}{
		{iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll), auth.ScopeReadAll},
		{iss.MustToken(t, readsOne.ID, readsOne.Secret, auth.ScopeRead), auth.ScopeRead},
	} {
		for _, path := range []string{"/project/+1", "/project/%2B1", "/project/01", "/project/0001", "/project/%2B01", "/project/-0"} {
			res := servicetest.Do(t, http.MethodGet, s.URL+path, bearer(caller.token))
			if res.Status != http.StatusBadRequest || servicetest.ErrorCode(t, res.Body) != "invalid_argument" {
				t.Fatalf("%s: %d %s, want 400 invalid_argument", path, res.Status, res.Body)
			}
			rows := audit.Take()
			if len(rows) != 1 || rows[0].Status != 400 || rows[0].ProjectId.Valid || rows[0].RequestId != res.Header.Get("X-Request-Id") {
				t.Fatalf("%s: rows %+v, want one 400 row naming no project, of request %s", path, rows, res.Header.Get("X-Request-Id"))
			}
		}
		res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", bearer(caller.token))
		rows := audit.Take()
		if res.Status != http.StatusOK || len(rows) != 1 || rows[0].ProjectId.Int64 != 1 || rows[0].GrantedBy != caller.grant ||
			rows[0].Route != "/project/:id" || rows[0].Status != 200 {
			t.Fatalf("/project/1: %d, rows %+v: want 200 and its row naming project 1 by %s", res.Status, rows, caller.grant)
		}
	}
}

// TestAudit_APanicIsAuditedAsThe500ItAnswers.
func TestAudit_APanicIsAuditedAsThe500ItAnswers(t *testing.T) {
	m := seeded()
	m.reports = func(context.Context, uint64, int) ([]*model.ProjectReport, error) { panic("injected") }
	s, iss, audit := securedWith(t, m, time.Second)
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll)))
	if res.Status != http.StatusInternalServerError {
		t.Fatalf("status %d", res.Status)
	}
	if got := statuses(audit.Take()); !equalStatuses(got, []uint64{500}) {
		t.Fatalf("the trail says %v, want [500]", got)
	}
}

// TestGuard_AHeaderLargerThanMaxHeaderBytesIs431BeforeAuthentication.
func TestGuard_AHeaderLargerThanMaxHeaderBytesIs431BeforeAuthentication(t *testing.T) {
	s, iss, audit := securedWith(t, seeded(), time.Second, "MaxHeaderBytes: 8192")
	h := bearer(iss.MustToken(t, readsAll.ID, readsAll.Secret, auth.ScopeReadAll))
	h.Set("X-Padding", strings.Repeat("p", 7000))
	if res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h); res.Status != http.StatusOK {
		t.Fatalf("a header under the bound: %d %s", res.Status, res.Body)
	}
	audit.Take()
	h.Set("X-Padding", strings.Repeat("p", 9000))
	res := servicetest.Do(t, http.MethodGet, s.URL+"/project/1", h)
	if res.Status != http.StatusRequestHeaderFieldsTooLarge || servicetest.ErrorCode(t, res.Body) != "header_too_large" {
		t.Fatalf("a header over the bound: %d %s, want 431 header_too_large", res.Status, res.Body)
	}
	if strings.Contains(res.Body, "CTP-") || len(audit.Take()) != 0 {
		t.Fatal("a 431 read the record or was audited (it comes before authentication)")
	}
}
