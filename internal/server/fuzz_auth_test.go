package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/openapitest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/types"
)

// caller is what a token issued in the fuzz run may do.
type caller struct {
	grant   string   // the scope that reads; "" for no project scope (403)
	project []uint64 // with project:read: the projects granted
}

// FuzzAuthorization sends GET /project/<seg> with any Authorization header
// through the real stack with authentication on (a real OpenID Provider,
// fake models — projects 1 and 2 exist — and a fake audit table) and
// checks each answer against what the token may do:
//
//   - not one of the tokens the provider issued: 401 with exactly the
//     RFC 6750 challenge (error="invalid_token" only when a token was
//     sent), and no audit row;
//   - a token without a project scope: 403, one row naming no project;
//   - a token that reads: for a plainly written id, 200 with that very
//     project when it exists and the grant covers it, else 404 exactly as
//     for a missing one; any other id: 400; one row per answer, naming the
//     project asked for (none for a 400), with the grant that allowed it
//     and the status sent.
//
// The seeds include tokens issued in this run (read-all, a grant of
// project 1, no scope) and forged ones, so the fuzzer mutates real tokens.
//
// Run: go test -run='^$' -fuzz=FuzzAuthorization -fuzztime=60s ./internal/server/
func FuzzAuthorization(f *testing.F) {
	iss := oidctest.Start(f, readsAll, readsOne, noProjects)
	callers := map[string]caller{}
	issue := func(c oidctest.Client, scope string, can caller) string {
		tok := iss.MustToken(f, c.ID, c.Secret, scope)
		callers[tok] = can
		return tok
	}
	all := issue(readsAll, auth.ScopeReadAll, caller{grant: auth.ScopeReadAll})
	one := issue(readsOne, auth.ScopeRead, caller{grant: auth.ScopeRead, project: []uint64{1}})
	none := issue(noProjects, "openid", caller{})
	expired := iss.Claims("x", auth.ScopeReadAll)
	expired["exp"] = 1
	for _, header := range []string{
		"Bearer " + all, "bearer " + all, "Bearer  " + all, "Bearer " + all + " ", "Bearer " + one, "Bearer " + none,
		"Bearer " + iss.Sign(expired),
		"Bearer " + oidctest.SignWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", iss.Claims("x", auth.ScopeReadAll)),
		"Bearer " + strings.TrimSuffix(all, all[len(all)-4:]),
		"Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "", "Bearer a.b.c", "Bearer ...", "Bearer e30.e30.", "Bearer \x00",
	} {
		for _, seg := range []string{"1", "2", "3", "+1", "01", "0", "-1", "abc", "9223372036854775807"} {
			f.Add(header, seg)
		}
	}

	c := servicetest.Config(f, servicetest.NoDatabase, servicetest.Issuer(iss.URL), "CpuThreshold: 0", "Timeout: 10000")
	audit := &fakes.AuditTable{}
	s, err := svc.NewServiceContext(c, store.WithModels(seeded().install), store.WithModels(audit.Install))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	waitForKeys(f, s)
	serve := servicetest.Handler(f, s)

	f.Fuzz(func(t *testing.T, authorization, seg string) {
		if strings.ContainsAny(seg, "/?#%") || seg == "" || seg == "." || seg == ".." {
			t.Skip() // another route, or none: FuzzGetProject's business
		}
		req := httptest.NewRequest(http.MethodGet, "/project/x", nil)
		req.URL.Path, req.RequestURI = "/project/"+seg, "/project/"+seg
		req.Header["Authorization"] = []string{authorization}
		audit.Take()
		rec := httptest.NewRecorder()
		serve(rec, req)
		rows := audit.Take()
		if err := openapitest.Check(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("%q %q: %v", authorization, seg, err)
		}

		scheme, token, _ := strings.Cut(authorization, " ")
		can, issued := callers[strings.TrimSpace(token)]
		issued = issued && strings.EqualFold(scheme, "Bearer")
		status := rec.Code
		if status != http.StatusOK {
			if _, _, err := servicetest.DecodeErrorBody(rec.Body.String()); err != nil {
				t.Fatalf("%q %q: %d: %v", authorization, seg, status, err)
			}
		}
		if !issued {
			if status != http.StatusUnauthorized || len(rows) != 0 {
				t.Fatalf("%q %q: %d with %d audit rows; a token the provider did not issue gets 401 and no row", authorization, seg, status, len(rows))
			}
			// A bearer token was sent (even an empty or malformed one) when
			// the scheme is Bearer: only then may the challenge carry error=.
			want := `Bearer realm="project-api"`
			if strings.EqualFold(scheme, "Bearer") {
				want += `, error="invalid_token", error_description="`
			}
			if got := rec.Header().Values("WWW-Authenticate"); len(got) != 1 || !strings.HasPrefix(got[0], want) ||
				(!strings.EqualFold(scheme, "Bearer") && got[0] != want) {
				t.Fatalf("%q: WWW-Authenticate %q, want %q...", authorization, got, want)
			}
			return
		}
		if len(rows) != 1 || rows[0].Status != uint64(status) || rows[0].Subject == "" {
			t.Fatalf("%q %q: %d with audit rows %+v, want exactly one row with the status sent", authorization, seg, status, rows)
		}
		row := rows[0]
		if can.grant == "" {
			if status != http.StatusForbidden || row.ProjectId.Valid {
				t.Fatalf("%q: no project scope: %d, row %+v, want 403 naming no project", seg, status, row)
			}
			return
		}
		id, ok, canonical := fuzzDecimal(seg, 1, math.MaxInt64)
		if !ok || !canonical {
			if status != http.StatusBadRequest || row.ProjectId.Valid {
				t.Fatalf("%q: %d, row %+v, want 400 naming no project", seg, status, row)
			}
			return
		}
		granted := can.grant == auth.ScopeReadAll || (len(can.project) > 0 && can.project[0] == id)
		exists := id == 1 || id == 2
		wantStatus, wantGrant := http.StatusNotFound, ""
		if granted {
			wantGrant = can.grant
			if exists {
				wantStatus = http.StatusOK
			}
		}
		if status != wantStatus || !row.ProjectId.Valid || uint64(row.ProjectId.Int64) != id || row.GrantedBy != wantGrant {
			t.Fatalf("project %q for %s%v: %d, row %+v; want %d, a row naming project %d granted by %q", seg, can.grant, can.project, status, row, wantStatus, id, wantGrant)
		}
		if status == http.StatusOK {
			var got types.ProjectDetailsResp
			if err := jsonStrict(rec.Body.Bytes(), &got); err != nil || got.Project.Id != id {
				t.Fatalf("project %d: the 200 carries %+v (%v), want project %d", id, got.Project, err, id)
			}
		}
	})
}

// jsonStrict decodes exactly one JSON value with no unknown fields.
func jsonStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
