package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/auth"
	projectlogic "github.com/clinicaldata/projectsvc/internal/logic/project"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/openapitest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// FuzzGetProject sends GET "/project/" + seg + "?" + query through the real
// router, middlewares, handler, logic and error table (server.New over fake
// models, served in-process) and checks every answer against an oracle
// written from the API contract (README, "API" and "Errors"), not from the
// code: see fuzzExpect for the rules and the decisions taken where the
// contract is silent.
//
// Whatever the input: the status is 200, 400 or 404 (never a 5xx, never a
// panic, never another 4xx); a 400/404 body is exactly {code, message} with
// the status's code and no parser, SQL or Go text; a 200 body is the whole
// record of the requested id with min(reports, available) reports. A path
// that normalises out of /project/ belongs to another route: any non-5xx
// JSON answer.
//
// Run: go test -run='^$' -fuzz=FuzzGetProject -fuzztime=60s ./internal/server/
func FuzzGetProject(f *testing.F) {
	for _, s := range [][2]string{
		{"1", ""},
		{"1", "reports=1"},
		{"42", "reports=100"},
		{"1000", "reports=10"},
		{"1001", ""},                // valid id, no such project
		{"999999", "x=1"},           // unknown parameters are refused
		{"0", ""},                   // not positive
		{"-1", ""},                  // not positive
		{"-0", ""},                  // zero
		{"+1", ""},                  // non-canonical spelling of 1: refused
		{"01", ""},                  // leading zero
		{" 1", ""},                  // space
		{"1.5", ""},                 // fraction
		{"1e3", ""},                 // exponent
		{"0x1", ""},                 // hex
		{"1_000", ""},               // Go digit separator
		{"abc", ""},                 // not a number
		{"9223372036854775807", ""}, // MaxInt64: valid, absent
		{"9223372036854775808", ""}, // MaxInt64+1: out of range
		{"99999999999999999999999999999999999999999999999999", ""},
		{"00000000000000000000000000000000000000000000000007", "reports=3"},
		{"", ""},           // empty segment: /project/ (no route)
		{"1/", ""},         // trailing slash
		{"1/2", ""},        // extra segment
		{"/1", ""},         // double slash
		{"1%2F2", ""},      // encoded slash
		{"1%2F..%2F2", ""}, // encoded slash with a dot segment
		{"./1", ""},        // dot segment
		{"../healthz", ""}, // normalises to the liveness probe
		{"../readyz", ""},  // normalises to the readiness probe
		{"%2E%2E/project/3", ""},
		{"%31", "reports=%35"}, // percent-encoded digits: 1, 5
		{"١٢", ""},             // Arabic-Indic digits
		{"１", ""},              // fullwidth digit one
		{"\xff", ""},           // invalid UTF-8
		{"1", "reports=0"},
		{"1", "reports=101"},
		{"1", "reports=-5"},
		{"1", "reports=x"},
		{"1", "reports="},
		{"1", "reports=+5"},   // '+' is a space in a query: " 5"
		{"1", "reports=%2B5"}, // "+5"
		{"1", "reports=05"},
		{"1", "reports=1e1"},
		{"1", "reports=3&reports=50"},
		{"1", "reports=50&reports=abc"},
		{"1", "reports=&reports=7"},
		{"1", "reports[]=7"},
		{"1", "reports[]=200"},
		{"1", "reports=5&reports[]=50"},
		{"1", "Reports=200"},
		{"1", "reports=5;x=1"}, // semicolon separator: malformed query
		{"1", "reports=%zz"},   // bad escape: malformed query
		{"1", "reports=99999999999999999999"},
		{"1#frag", "reports=5"},
		{"1?reports=2", "reports=3"},
	} {
		f.Add(s[0], s[1])
	}

	h, authorization, audit := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, seg, query string) {
		target := "/project/" + seg + "?" + query
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Skip() // not a URL a client could send
		}
		req.RemoteAddr = "127.0.0.1:4321"
		req.RequestURI = target
		req.Header.Set("Authorization", authorization)

		fuzzViolations.reset()
		audit.Take()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if v := fuzzViolations.take(); len(v) > 0 {
			t.Fatalf("%q: the models were called with arguments outside the contract: %v", target, v)
		}
		answered := fuzzCheck(t, target, req.URL, rec.Code, rec.Header(), rec.Body.Bytes())
		if err := openapitest.Check(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		fuzzCheckAudit(t, target, answered, rec.Code, audit.Take())
	})
}

// fuzzCheckAudit checks the audit rows of an answer to a verified caller
// (read-all) against the outcome it matched: a record (200) or a project
// that does not exist (404) has exactly one row naming that project, with
// the status sent; a 400 has at most one row, naming no project; nothing
// else may name a project. Every spelling of an id meets the audit here:
// no 200 leaves without the row of the project it carries.
func fuzzCheckAudit(t *testing.T, target string, o fuzzOutcome, status int, rows []*model.AccessAudit) {
	t.Helper()
	switch {
	case o.other != "" || (status != http.StatusOK && o.id == 0):
		for _, r := range rows {
			if r.ProjectId.Valid || r.Status != uint64(status) {
				t.Fatalf("%q (%d): audit row %+v, want none naming a project, and the status sent", target, status, r)
			}
		}
		if len(rows) > 1 {
			t.Fatalf("%q (%d): %d audit rows, want at most one", target, status, len(rows))
		}
	default:
		if len(rows) != 1 || !rows[0].ProjectId.Valid || uint64(rows[0].ProjectId.Int64) != o.id ||
			rows[0].Status != uint64(status) || rows[0].GrantedBy != auth.ScopeReadAll {
			t.Fatalf("%q (%d, project %d): audit rows %+v, want one naming project %d with status %d", target, status, o.id, rows, o.id, status)
		}
	}
}

// ---- the service under fuzz ----

// fuzzHandler is the service (the harness's svc.NewServiceContext and
// server.New) over the fake models, served in-process.
//
// Load shedding is off: the fuzzer keeps both cores busy, and go-zero's
// CPU-based shedder would then answer 503 for reasons that have nothing to
// do with the input (overload is the soak test's business, not this one's).
//
// Authentication is on (a real OpenID Provider): every request carries a
// read-all token, and every answer meets the audit trail (a fake table).
func fuzzHandler(tb testing.TB) (h http.Handler, authorization string, audit *fakes.AuditTable) {
	tb.Helper()
	iss := oidctest.Start(tb, readsAll)
	authorization = "Bearer " + iss.MustToken(tb, readsAll.ID, readsAll.Secret, auth.ScopeReadAll)
	audit = &fakes.AuditTable{}
	c := servicetest.Config(tb, servicetest.NoDatabase, "Timeout: 10000", "CpuThreshold: 0", servicetest.Issuer(iss.URL))
	// A database whose ping succeeds: /readyz is reachable too, e.g. as
	// /project/../readyz (production always has a pool).
	db := sql.OpenDB(okConnector{})
	tb.Cleanup(func() { db.Close() })
	s, err := svc.NewServiceContext(c, store.WithDB(db), store.WithModels(func(m *store.Models) {
		m.Project = fakes.Project(fuzzFindProject)
		m.ProjectInstitution = fakes.AllInstitutions(fuzzFindInstitutions)
		m.ProjectReport = fakes.LatestReports(fuzzFindReports)
	}), store.WithModels(audit.Install))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	waitForKeys(tb, s)
	return servicetest.Handler(tb, s), authorization, audit
}

// waitForKeys waits until s's verifier has the issuer's keys: a fuzz
// worker starting on a busy machine may take longer than the service's
// own start-up wait, and its first answers would be 503s that have
// nothing to do with the input.
func waitForKeys(tb testing.TB, s *svc.ServiceContext) {
	tb.Helper()
	if !servicetest.Eventually(30*time.Second, s.Verifier.Ready) {
		tb.Fatal("the issuer's keys were not loaded within 30 s")
	}
}

// okConnector is a database whose ping succeeds and that runs no SQL.
type okConnector struct{}

func (okConnector) Connect(context.Context) (driver.Conn, error) { return okConn{}, nil }
func (okConnector) Driver() driver.Driver                        { return nil }

type okConn struct{}

func (okConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fuzz: no SQL here") }
func (okConn) Close() error                        { return nil }
func (okConn) Begin() (driver.Tx, error)           { return nil, errors.New("fuzz: no SQL here") }
func (okConn) Ping(context.Context) error          { return nil }

// The fake data set: projects 1..1000 exist; project p has p%4 sites and
// fuzzAvailable(p) reports (0..130, so limits are visible in the answer).
const fuzzProjects = 1000

func fuzzAvailable(id uint64) int { return int(id*37) % 131 }

var fuzzAt = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

func fuzzFindProject(_ context.Context, id uint64) (*model.Project, error) {
	fuzzViolations.checkID("FindOne", id)
	if id < 1 || id > fuzzProjects {
		return nil, model.ErrNotFound
	}
	return &model.Project{Id: id, Code: fmt.Sprintf("CTP-%04d", id), Title: "trial " + fmt.Sprint(id),
		Phase: "III", Status: "recruiting", Sponsor: "Acme", CreatedAt: fuzzAt, UpdatedAt: fuzzAt}, nil
}

func fuzzFindInstitutions(_ context.Context, id uint64) ([]*model.ProjectInstitutionDetail, error) {
	fuzzViolations.checkID("FindAllByProjectID", id)
	institutions := []*model.ProjectInstitutionDetail{}
	if id > fuzzProjects {
		return institutions, nil
	}
	for k := range int(id % 4) {
		institutions = append(institutions, &model.ProjectInstitutionDetail{Id: id*10 + uint64(k), Code: fmt.Sprintf("INST-%d-%d", id, k),
			Name: fmt.Sprintf("Site %d", k), Role: "participating", JoinedAt: fuzzAt})
	}
	return institutions, nil
}

func fuzzFindReports(_ context.Context, id uint64, limit int) ([]*model.ProjectReport, error) {
	fuzzViolations.checkID("FindLatestByProjectID", id)
	// The record reads one report more than it shows (whether the list goes on).
	if limit < projectlogic.MinReports+1 || limit > projectlogic.MaxReports+1 {
		fuzzViolations.add(fmt.Sprintf("FindLatestByProjectID(%d, limit=%d): limit outside the reports bounds (+1)", id, limit))
	}
	reports := []*model.ProjectReport{}
	if id > fuzzProjects {
		return reports, nil
	}
	for _, rid := range fuzzReportIDs(id, limit) {
		reports = append(reports, &model.ProjectReport{Id: rid, ProjectId: id, Title: "r", ReportType: "safety", CreatedAt: fuzzAt})
	}
	return reports, nil
}

// fuzzReportIDs are the ids of project id's latest limit reports, newest first.
func fuzzReportIDs(id uint64, limit int) []uint64 {
	ids := []uint64{}
	for k := fuzzAvailable(id); k > 0 && len(ids) < limit; k-- {
		ids = append(ids, id*1000+uint64(k))
	}
	return ids
}

// fuzzViolations collects calls of the models with arguments the logic must
// never pass (the fakes cannot fail the test themselves: they are built once,
// outside f.Fuzz). A fuzz worker runs one input at a time.
var fuzzViolations violations

type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(s string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, s)
}

func (v *violations) checkID(fn string, id uint64) {
	if id < 1 || id > math.MaxInt64 {
		v.add(fmt.Sprintf("%s(%d): id is not a positive int64", fn, id))
	}
}

func (v *violations) reset() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = nil
}

func (v *violations) take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	l := v.list
	v.list = nil
	return l
}

// ---- the oracle ----

// fuzzOutcome is one acceptable answer: a status, and for a 200 the record
// (project id, reports limit); or, for a path that leaves /project/ (such as
// /project/../healthz), another route's answer.
type fuzzOutcome struct {
	status int
	id     uint64
	limit  int
	other  string
}

func (o fuzzOutcome) String() string {
	switch {
	case o.other != "":
		return "any non-5xx JSON answer of " + o.other
	case o.status == http.StatusOK:
		return fmt.Sprintf("200 project %d, limit %d", o.id, o.limit)
	case o.id != 0:
		return fmt.Sprintf("%d project %d", o.status, o.id)
	default:
		return fmt.Sprint(o.status)
	}
}

const (
	// defaultReports is project.api's default of ?reports=.
	defaultReports = 10
	// go-zero rejects a query with more non-empty values than this.
	maxFormValues = 2048
)

// fuzzExpect lists the acceptable answers to a GET of u, from the contract:
//
//   - Routing. The path is percent-decoded, then normalised like path.Clean
//     (dot segments resolved as in RFC 3986 §5.2.4, repeated and trailing
//     slashes dropped) and matched against /project/{id}, /healthz, /readyz;
//     anything else is 404 not_found ("no such route" is in the error
//     table). The contract is silent on non-canonical paths (trailing or
//     doubled slash, dot segments) and on an encoded slash (%2F), which
//     RFC 3986 treats as data inside a segment, not as a separator: for
//     those a strict 400/404 is accepted too, but a 200 must still be the
//     record of the id the normalised path names.
//   - id: a decimal integer (ASCII digits) in 1..MaxInt64 written plainly,
//     else 400 invalid_argument: "+1" and "01" are refused (README: a
//     project has one id). Unicode digits, spaces, fractions, exponents,
//     hex, '_' are not decimal integers: 400.
//   - A query parameter other than reports (or go-zero's reports[]) is 400.
//   - A malformed query string (bad escape, ';' separator) is 400.
//   - reports: the query parameter "reports" (form-decoded: '+' is a space);
//     absent: 10; one value: a decimal integer in 1..100, else 400.
//     Where the contract is silent, each reasonable reading is accepted,
//     and a 200 must honour the reading it took: an empty value (absent, or
//     400), several values (any one of them, or 400), and go-zero's
//     "reports[]" array spelling of the same parameter (ignored as an
//     unknown parameter, honoured, or 400).
//   - Invalid arguments are reported before existence: 400 wins over 404.
//   - An existing id (1..1000 in the fakes) is 200 with its whole record and
//     min(limit, available) reports; a valid id that does not exist is 404.
func fuzzExpect(target string, u *url.URL) []fuzzOutcome {
	var out []fuzzOutcome
	add := func(o fuzzOutcome) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	bad := fuzzOutcome{status: http.StatusBadRequest}
	missing := fuzzOutcome{status: http.StatusNotFound}

	rawPath, _, _ := strings.Cut(target, "?")
	rawPath, _, _ = strings.Cut(rawPath, "#")
	clean := path.Clean(u.Path)
	if clean != u.Path || strings.Contains(strings.ToLower(rawPath), "%2f") {
		add(bad)
		add(missing)
	}

	token, ok := strings.CutPrefix(clean, "/project/")
	if !ok || token == "" || strings.Contains(token, "/") {
		// Another route (a probe, another resource) or none: this oracle
		// knows only /project/{id}, and asks of the rest what the contract
		// asks of every answer.
		add(fuzzOutcome{other: clean})
		return out
	}
	id, ok, canonical := fuzzDecimal(token, 1, math.MaxInt64)
	if !ok {
		add(bad)
		return out
	}
	if !canonical {
		add(bad) // a resource has one name: +1 and 01 are refused
		return out
	}

	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		add(bad)
		return out
	}
	for key := range values {
		if strings.TrimSuffix(key, "[]") != "reports" {
			// A parameter the route does not take: 400, or the 404 of
			// an unclean path (it is refused before its query is read).
			add(bad)
			return out
		}
	}
	n := 0
	for _, vs := range values {
		for _, v := range vs {
			if v != "" {
				n++
			}
		}
	}
	if n > maxFormValues {
		add(bad)
	}

	var limits []int
	plain, array := values["reports"], values["reports[]"]
	all := append(slices.Clone(plain), array...)
	nonEmpty := slices.DeleteFunc(slices.Clone(all), func(v string) bool { return v == "" })
	strict := len(array) == 0 && len(plain) <= 1
	switch {
	case len(all) == 0:
		limits = append(limits, defaultReports) // absent
	case len(array) > 0 && len(plain) == 0:
		limits = append(limits, defaultReports) // "reports[]" read as an unknown parameter
	case len(nonEmpty) < len(all):
		limits = append(limits, defaultReports) // an empty value read as absent (first value wins)
	}
	if len(nonEmpty) < len(all) || !strict {
		add(bad)
	}
	for _, v := range nonEmpty {
		r, ok, canonical := fuzzDecimal(v, projectlogic.MinReports, projectlogic.MaxReports)
		if !ok {
			add(bad)
			continue
		}
		if !canonical {
			add(bad)
		}
		limits = append(limits, int(r))
	}

	for _, l := range limits {
		if id > fuzzProjects {
			add(fuzzOutcome{status: http.StatusNotFound, id: id})
		} else {
			add(fuzzOutcome{status: http.StatusOK, id: id, limit: l})
		}
	}
	return out
}

var decimalRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

// fuzzDecimal parses s as a decimal integer in min..max; canonical is false
// for a sign or leading zeros.
func fuzzDecimal(s string, min, max uint64) (v uint64, ok, canonical bool) {
	if !decimalRE.MatchString(s) {
		return 0, false, false
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Cmp(new(big.Int).SetUint64(min)) < 0 || n.Cmp(new(big.Int).SetUint64(max)) > 0 {
		return 0, false, false
	}
	return n.Uint64(), true, n.String() == s
}

// ---- the checks ----

// fuzzLeaks are texts of parsers, drivers and the runtime that must never
// reach a client — unless the client sent them (messages quote bad input).
var fuzzLeaks = []string{"strconv", "ParseInt", "invalid syntax", "value out of range", "sql", "SQL",
	"mysql", "goroutine", "panic", ".go:", "runtime error", "mapping", "reflect", "errgroup", "context deadline"}

func fuzzCheck(t *testing.T, target string, u *url.URL, status int, header http.Header, body []byte) fuzzOutcome {
	t.Helper()
	allowed := fuzzExpect(target, u)
	if len(allowed) == 0 {
		t.Fatalf("oracle has no answer for %q", target)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%q: Content-Type = %q, want JSON", target, ct)
	}
	var errs []string
	for _, o := range allowed {
		if o.other != "" {
			if status >= http.StatusInternalServerError || !json.Valid(body) {
				t.Fatalf("%q (%s): status %d, body %.300s: want a non-5xx JSON answer", target, o.other, status, body)
			}
			return o
		}
		if o.status != status {
			continue
		}
		err := fuzzMatch(o, target, u, body)
		if err == nil {
			return o
		}
		errs = append(errs, fmt.Sprintf("as %v: %v", o, err))
	}
	if len(errs) == 0 {
		t.Fatalf("%q: status %d, want one of %v; body: %.300s", target, status, allowed, body)
	}
	t.Fatalf("%q: status %d but the body is wrong:\n  %s\nbody: %.500s", target, status, strings.Join(errs, "\n  "), body)
	return fuzzOutcome{}
}

// fuzzMatch checks body against one acceptable outcome of the same status.
func fuzzMatch(o fuzzOutcome, target string, u *url.URL, body []byte) error {
	switch {
	case o.status == http.StatusOK:
		return fuzzMatchRecord(o, body)
	default:
		return fuzzMatchError(o.status, target, u, body)
	}
}

func fuzzMatchError(status int, target string, u *url.URL, body []byte) error {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return fmt.Errorf("not a {code, message} object: %v", err)
	}
	if dec.More() {
		return errors.New("trailing data after the error object")
	}
	want := map[int]string{http.StatusBadRequest: "invalid_argument", http.StatusNotFound: "not_found"}[status]
	if e.Code != want {
		return fmt.Errorf("code %q, want %q", e.Code, want)
	}
	if strings.TrimSpace(e.Message) == "" {
		return errors.New("empty message")
	}
	// What the client sent may be quoted back; anything else is a leak.
	sent := target + "\x00" + u.Path + "\x00" + u.RawQuery
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for k, vs := range q {
			sent += "\x00" + k + "\x00" + strings.Join(vs, "\x00")
		}
	}
	for _, l := range fuzzLeaks {
		if strings.Contains(e.Message, l) && !strings.Contains(sent, l) {
			return fmt.Errorf("message %q leaks %q", e.Message, l)
		}
	}
	return nil
}

func fuzzMatchRecord(o fuzzOutcome, body []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	for _, k := range []string{"institutions", "reports"} {
		if v := bytes.TrimSpace(raw[k]); len(v) == 0 || v[0] != '[' {
			return fmt.Errorf("%s is %s, want an array", k, v)
		}
	}
	var got types.ProjectDetailsResp
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		return fmt.Errorf("not a project record: %v", err)
	}
	if got.Project.Id != o.id || got.Project.Code != fmt.Sprintf("CTP-%04d", o.id) {
		return fmt.Errorf("project id %d code %q, want %d", got.Project.Id, got.Project.Code, o.id)
	}
	if got.Project.CreatedAt != "2024-03-01T09:30:00Z" || got.Project.EndDate != nil {
		return fmt.Errorf("project fields %+v", got.Project)
	}
	var sites []uint64
	for _, s := range got.Institutions {
		sites = append(sites, s.Id)
	}
	var wantSites []uint64
	for k := range o.id % 4 {
		wantSites = append(wantSites, o.id*10+k)
	}
	if !slices.Equal(sites, wantSites) {
		return fmt.Errorf("institutions %v, want %v", sites, wantSites)
	}
	var reports []uint64
	for _, r := range got.Reports {
		reports = append(reports, r.Id)
	}
	if want := fuzzReportIDs(o.id, o.limit); !slices.Equal(reports, want) && !(len(reports) == 0 && len(want) == 0) {
		return fmt.Errorf("%d reports %v, want the latest %d: %v", len(reports), reports, o.limit, want)
	}
	return nil
}
