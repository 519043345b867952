package openapitest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	project = `{"id": 1, "code": "CTP-2024-017", "title": "Semaglutide versus placebo", "phase": "III", "status": "recruiting",
		"sponsor": "Nordhavn Pharma A/S", "start_date": "2024-03-01", "end_date": null,
		"created_at": "2024-01-15T08:30:00Z", "updated_at": "2024-11-02T14:05:00Z"}`
	institution = `{"id": 1, "code": "INST-DK-001", "name": "Aarhus University Hospital", "city": "Aarhus", "country": "DK",
		"role": "lead", "site_status": "active", "principal_investigator": "Dr. Mette Kjaer", "enrolled": 31, "joined_at": "2024-02-01T09:00:00Z"}`
	report = `{"id": 4, "title": "Protocol deviation summary", "report_type": "deviation", "period_start": "2024-07-01",
		"period_end": "2024-09-30", "summary": null, "created_at": "2024-10-04T10:00:00Z"}`
	record       = `{"project": ` + project + `, "institutions": [` + institution + `], "institutions_next": "b3BhcXVl", "reports": [` + report + `], "reports_next": null}`
	notFound     = `{"code": "not_found", "message": "project 999 does not exist"}`
	invalidArg   = `{"code": "invalid_argument", "message": "\"abc\" is not a whole number"}`
	noRoute      = `{"code": "not_found", "message": "no such route"}`
	jsonUTF8     = "application/json; charset=utf-8"
	requestID    = "0c5e7a52b3f64d0e"
	etag         = `"q0bOQ2n8zD3cY6xP0mJ3aK1T"`
	bearerHeader = "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
)

// headers of a secured answer.
func headers(extra ...string) http.Header {
	h := http.Header{}
	h.Set("X-Request-Id", requestID)
	h.Set("RateLimit-Policy", `"default";q=100;w=60`)
	h.Set("RateLimit", `"default";r=99;t=60`)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

func okHeaders(extra ...string) http.Header {
	return headers(append([]string{"Content-Type", jsonUTF8, "ETag", etag, "Cache-Control", "private, no-cache", "Vary", "Authorization"}, extra...)...)
}

func errorHeaders(extra ...string) http.Header {
	return headers(append([]string{"Content-Type", jsonUTF8, "Cache-Control", "no-store"}, extra...)...)
}

func request(method, target string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Authorization", bearerHeader)
	return req
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name    string
		req     *http.Request
		status  int
		header  http.Header
		body    string
		invalid string // a piece of the expected error, "" for a valid answer
	}{
		{"record", request("GET", "/project/1?reports=2"), 200, okHeaders(), record, ""},
		{"undocumented status", request("GET", "/project/1"), http.StatusTeapot, errorHeaders(), `{"code": "internal", "message": "teapot"}`, "status 418"},
		{"error without message", request("GET", "/project/999"), 404, errorHeaders(), `{"code": "not_found"}`, "message"},
		{"error with an unknown code", request("GET", "/project/999"), 404, errorHeaders(), `{"code": "missing", "message": "x"}`, "code"},
		{"error with a property too many", request("GET", "/project/999"), 404, errorHeaders(), `{"code": "not_found", "message": "x", "trace": "y"}`, "trace"},
		{"error as text", request("GET", "/project/999"), 404, errorHeaders("Content-Type", "text/plain; charset=utf-8"), "not found", "Content-Type"},
		{"no X-Request-Id", request("GET", "/project/1"), 200, func() http.Header { h := okHeaders(); h.Del("X-Request-Id"); return h }(), record, "X-Request-Id"},
		{"no RateLimit (not required)", request("GET", "/project/1"), 200, func() http.Header { h := okHeaders(); h.Del("RateLimit"); return h }(), record, ""},
		{"Retry-After not a number", request("GET", "/project/1"), 503, errorHeaders("Retry-After", "soon"), `{"code": "unavailable", "message": "x"}`, "Retry-After"},
		{"503 with Retry-After", request("GET", "/project/1"), 503, errorHeaders("Retry-After", "1"), `{"code": "unavailable", "message": "x"}`, ""},
		{"401 with its challenge", request("GET", "/project/1"), 401, errorHeaders("WWW-Authenticate", `Bearer realm="project-api"`), `{"code": "unauthenticated", "message": "x"}`, ""},
		{"a time that is not RFC 3339", request("GET", "/project/1"), 200, okHeaders(), strings.Replace(record, "2024-01-15T08:30:00Z", "15/01/2024", 1), "created_at"},
		{"a date with a time", request("GET", "/project/1"), 200, okHeaders(), strings.Replace(record, `"2024-03-01"`, `"2024-03-01T00:00:00Z"`, 1), "start_date"},
		{"a list that is null", request("GET", "/project/1"), 200, okHeaders(), strings.Replace(record, `"reports": [`+report+`]`, `"reports": null`, 1), "reports"},
		{"a required field missing", request("GET", "/project/1"), 200, okHeaders(), strings.Replace(record, `"reports_next": null`, `"other": null`, 1), "reports_next"},
		{"an empty 200", request("GET", "/project/1"), 200, headers(), "", "Content-Type"},

		// 304 and HEAD: ValidateResponse alone would wave them through.
		{"304", request("GET", "/project/1"), 304, headers("ETag", etag), "", ""},
		{"304 with a body", request("GET", "/project/1"), 304, headers("ETag", etag), record, "no body"},
		{"304 without X-Request-Id", request("GET", "/project/1"), 304, http.Header{"Etag": {etag}}, "", "X-Request-Id"},
		{"HEAD 200", request("HEAD", "/project/1"), 200, okHeaders(), "", ""},
		{"HEAD 304", request("HEAD", "/project/1"), 304, headers("ETag", etag), "", ""},
		{"HEAD 200 with a body", request("HEAD", "/project/1"), 200, okHeaders(), record, "no body"},
		{"HEAD 404", request("HEAD", "/project/999"), 404, errorHeaders(), "", ""},
		{"HEAD 418", request("HEAD", "/project/1"), http.StatusTeapot, headers(), "", "status 418"},
		{"HEAD without X-Request-Id", request("HEAD", "/project/1"), 200, http.Header{}, "", "X-Request-Id"},

		// Routing: each path to its own operation.
		{"institutions page", request("GET", "/project/1/institutions?limit=1"), 200, okHeaders("Link", `</project/1/institutions?cursor=b3BhcXVl&limit=1>; rel="next"`),
			`{"institutions": [` + institution + `], "next_cursor": "b3BhcXVl"}`, ""},
		{"the record on the institutions route", request("GET", "/project/1/institutions"), 200, okHeaders(), record, "next_cursor"},
		{"reports page", request("GET", "/project/1/reports"), 200, okHeaders(), `{"reports": [], "next_cursor": null}`, ""},
		{"catalogue page", request("GET", "/projects?status=recruiting"), 200, okHeaders(), `{"projects": [` + project + `], "next_cursor": null}`, ""},
		{"a page on the record route", request("GET", "/project/1"), 200, okHeaders(), `{"projects": [], "next_cursor": null}`, "project"},

		// Requests the document refuses: their answers are still checked.
		{"bad id refused", request("GET", "/project/abc"), 400, errorHeaders(), invalidArg, ""},
		{"bad id refused without message", request("GET", "/project/abc"), 400, errorHeaders(), `{"code": "invalid_argument"}`, "message"},
		{"bad id answered 200 with a bad body", request("GET", "/project/abc"), 200, okHeaders(), `{"project": {}}`, "doesn't match"},
		{"unknown query parameter refused", request("GET", "/project/1?colour=red"), 400, errorHeaders(), invalidArg, ""},

		// Unsecured routes.
		{"healthz", request("GET", "/healthz"), 200, http.Header{"Content-Type": {jsonUTF8}, "X-Request-Id": {requestID}}, `{"status": "ok"}`, ""},
		{"healthz saying ready", request("GET", "/healthz"), 200, http.Header{"Content-Type": {jsonUTF8}, "X-Request-Id": {requestID}}, `{"status": "ready"}`, "status"},
		{"readyz not ready", request("GET", "/readyz"), 503, http.Header{"Content-Type": {jsonUTF8}, "X-Request-Id": {requestID}, "Retry-After": {"1"}},
			`{"code": "unavailable", "message": "shutting down"}`, ""},
		{"openapi.json", request("GET", "/openapi.json"), 200, http.Header{"Content-Type": {jsonUTF8}, "X-Request-Id": {requestID}}, `{"openapi": "3.0.3"}`, ""},

		// Requests outside the document.
		{"no such path", request("GET", "/nope"), 404, errorHeaders(), noRoute, ""},
		{"no such path, empty HEAD", request("HEAD", "/nope"), 404, errorHeaders(), "", ""},
		{"no such path, 200", request("GET", "/nope"), 200, okHeaders(), record, "404 or 405"},
		{"no such path, text", request("GET", "/nope"), 404, http.Header{"Content-Type": {"text/plain"}}, "404 page not found", "application/json"},
		{"no such path, bad body", request("GET", "/nope"), 404, errorHeaders(), `{"error": "no"}`, "Error schema"},
		{"no such method", request("POST", "/project/1"), 405, errorHeaders(), `{"code": "invalid_argument", "message": "method not allowed on this route"}`, ""},
		{"no such method, 400", request("POST", "/project/1"), 400, errorHeaders(), `{"code": "invalid_argument", "message": "method not allowed on this route"}`, "404 or 405"},
		{"HEAD of a probe", request("HEAD", "/healthz"), 405, errorHeaders(), "", ""},
		{"a path below the record", request("GET", "/project/1/other"), 404, errorHeaders(), noRoute, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Check(c.req, c.status, c.header, []byte(c.body))
			switch {
			case c.invalid == "" && err != nil:
				t.Errorf("valid answer refused: %v", err)
			case c.invalid != "" && err == nil:
				t.Errorf("invalid answer passed (want an error about %q)", c.invalid)
			case c.invalid != "" && !strings.Contains(err.Error(), c.invalid):
				t.Errorf("error does not mention %q: %v", c.invalid, err)
			case err != nil:
				t.Logf("refused as it should be: %v", err)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	anonymous := httptest.NewRequest("GET", "/project/1", nil)
	for _, c := range []struct {
		name    string
		req     *http.Request
		invalid string
	}{
		{"record", request("GET", "/project/1?reports=2&institutions=5"), ""},
		{"HEAD", request("HEAD", "/project/1"), ""},
		{"catalogue", request("GET", "/projects?updated_since=2024-11-02T14:05:00Z&institution=12&limit=100"), ""},
		{"page", request("GET", "/project/7/reports?cursor=b3BhcXVl&limit=5"), ""},
		{"probe without a token", httptest.NewRequest("GET", "/readyz", nil), ""},
		{"no token", anonymous, "Bearer"},
		{"bad id", request("GET", "/project/abc"), "id"},
		{"id 0", request("GET", "/project/0"), "id"},
		{"reports over 100", request("GET", "/project/1?reports=101"), "reports"},
		{"limit 0", request("GET", "/projects?limit=0"), "limit"},
		{"institution 0", request("GET", "/projects?institution=0"), "institution"},
		{"updated_since a date", request("GET", "/projects?updated_since=2024-11-02"), "updated_since"},
		{"unknown parameter", request("GET", "/project/1?colour=red"), "colour"},
		{"parameter twice", request("GET", "/project/1?reports=2&reports=3"), "2 times"},
		{"no such path", request("GET", "/nope"), "no matching operation"},
		{"no such method", request("DELETE", "/project/1"), "method not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			query := c.req.URL.RawQuery
			err := CheckRequest(c.req)
			switch {
			case c.invalid == "" && err != nil:
				t.Errorf("valid request refused: %v", err)
			case c.invalid != "" && err == nil:
				t.Errorf("invalid request passed (want an error about %q)", c.invalid)
			case c.invalid != "" && !strings.Contains(err.Error(), c.invalid):
				t.Errorf("error does not mention %q: %v", c.invalid, err)
			case err != nil:
				t.Logf("refused as it should be: %v", err)
			}
			if c.req.URL.RawQuery != query {
				t.Errorf("CheckRequest changed the query: %q -> %q", query, c.req.URL.RawQuery)
			}
		})
	}
}

// roundTripper answers every request with one canned answer.
type roundTripper struct {
	status int
	header http.Header
	body   string
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: rt.status, Header: rt.header, Body: io.NopCloser(strings.NewReader(rt.body)), Request: req}, nil
}

func TestCheckResponseAndTransport(t *testing.T) {
	good := roundTripper{404, errorHeaders(), notFound}
	bad := roundTripper{404, errorHeaders(), `{"code": "not_found"}`}

	var reported []error
	client := &http.Client{Transport: transport{next: good, report: func(err error) { reported = append(reported, err) }}}
	res, err := client.Get("http://service.test/project/999")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != notFound || len(reported) != 0 {
		t.Errorf("a valid answer: body %q (want it unchanged), reports %v", body, reported)
	}

	client.Transport = transport{next: bad, report: func(err error) { reported = append(reported, err) }}
	res, err = client.Get("http://service.test/project/999")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	if string(body) != bad.body || len(reported) != 1 {
		t.Errorf("an invalid answer: body %q (want it unchanged), reports %v", body, reported)
	}

	res, _ = bad.RoundTrip(request("GET", "/project/999"))
	if body, err := CheckResponse(res); err == nil || string(body) != bad.body {
		t.Errorf("CheckResponse: body %q, error %v", body, err)
	}
	if again, _ := io.ReadAll(res.Body); string(again) != bad.body {
		t.Errorf("CheckResponse did not put the body back: %q", again)
	}
	res, _ = good.RoundTrip(request("GET", "/project/999"))
	if body := MustCheckResponse(t, res); string(body) != notFound {
		t.Errorf("MustCheckResponse returned %q", body)
	}
	MustCheck(t, request("GET", "/project/999"), 404, errorHeaders(), []byte(notFound))
	MustCheckRequest(t, request("GET", "/project/999"))
}

// The errors name the exchange, so a failing test says which one.
func TestErrorNamesTheExchange(t *testing.T) {
	err := Check(request("GET", "/project/1?reports=2"), http.StatusTeapot, headers(), nil)
	if err == nil || !strings.Contains(err.Error(), "GET /project/1?reports=2 answered 418") {
		t.Errorf("error %v", err)
	}
	if errors.Unwrap(err) == nil {
		t.Error("the cause is not wrapped")
	}
}

// Tests check answers from many goroutines at once (run with -race).
func TestConcurrentChecks(t *testing.T) {
	t.Parallel()
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func() {
			err := Check(request("GET", "/project/1?reports=2"), 200, okHeaders(), []byte(record))
			if err == nil {
				err = Check(request("HEAD", "/projects?status=x"), 200, okHeaders(), nil)
			}
			if err == nil {
				err = CheckRequest(request("GET", "/project/1/reports?limit=3"))
			}
			done <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
