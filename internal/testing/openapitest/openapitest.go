// Package openapitest checks the service's answers, and the tests'
// requests, against its OpenAPI document (internal/openapi). It is test
// support: production code never imports it.
//
// Check validates an answer: its status must be one the document lists for
// the operation, its headers must match (required ones present), and its
// body must match the schema, or be empty where the document has none (a
// HEAD, a 304). An answer to a request the document has no operation for is
// valid only as a 404 or 405 with the Error body. The request itself is not
// judged by Check (tests send bad ids on purpose, and the answer to those
// must still be right): CheckRequest does that.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/clinicaldata/projectsvc/internal/openapi"
)

type checker struct {
	doc    *openapi3.T
	router routers.Router
	errors *openapi3.Schema // the Error body
}

// load parses and validates the document and builds its router, once per
// process. gorillamux rather than the legacy router: it tells a path the
// document lacks from a method it lacks, and matches a path variable
// within one segment, so /project/{id} never takes /project/1/institutions.
var load = sync.OnceValues(func() (*checker, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document)
	if err != nil {
		return nil, fmt.Errorf("openapi: load the document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: the document is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: route the document: %w", err)
	}
	e := doc.Components.Schemas["Error"]
	if e == nil || e.Value == nil {
		return nil, errors.New("openapi: the document has no Error schema")
	}
	return &checker{doc: doc, router: router, errors: e.Value}, nil
})

// Check validates the answer (status, header, body) the service gave to req
// against the document. It does not judge req itself (see CheckRequest).
func Check(req *http.Request, status int, header http.Header, body []byte) error {
	c, err := load()
	if err != nil {
		return err
	}
	if err := c.check(req, status, header, body); err != nil {
		return fmt.Errorf("openapi: %s %s answered %d: %w", req.Method, req.URL.RequestURI(), status, err)
	}
	return nil
}

func (c *checker) check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return c.checkUnrouted(req, status, header, body, err)
	}
	if err != nil {
		return err
	}
	response := route.Operation.Responses.Status(status)
	if response == nil || response.Value == nil {
		return fmt.Errorf("the document does not describe status %d for %s %s", status, route.Method, route.Path)
	}
	bodiless := req.Method == http.MethodHead || len(response.Value.Content) == 0
	if bodiless && len(body) > 0 {
		return fmt.Errorf("this answer has no body in the document, but it has %d bytes", len(body))
	}
	options := &openapi3filter.Options{
		IncludeResponseStatus: true, // an answer the document does not list is an error
		MultiError:            true,
		ExcludeResponseBody:   req.Method == http.MethodHead,
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: options},
		Status:                 status,
		Header:                 header,
		Options:                options,
	}
	if bodiless {
		// openapi3filter.ValidateResponse returns nil, unchecked, for any
		// answer to a HEAD and for any 304. Its header checks still apply
		// when it is shown the same response as the 200 of a GET.
		op := *route.Operation
		op.Responses = openapi3.NewResponses(openapi3.WithStatus(http.StatusOK, response))
		asGet := *route
		asGet.Method, asGet.Operation = http.MethodGet, &op
		get := req.Clone(req.Context())
		get.Method = http.MethodGet
		input.RequestValidationInput = &openapi3filter.RequestValidationInput{Request: get, PathParams: params, Route: &asGet, Options: options}
		input.Status = http.StatusOK
	}
	input.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), input)
}

// checkUnrouted: the document has no operation for req, so the service must
// refuse it: 404 or 405, with the Error body (none for a HEAD).
func (c *checker) checkUnrouted(req *http.Request, status int, header http.Header, body []byte, routeErr error) error {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return fmt.Errorf("the document has no such operation (%v): only 404 or 405 with the Error body would be right", routeErr)
	}
	if req.Method == http.MethodHead && len(body) == 0 {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fmt.Errorf("an error body must be application/json, not %q", header.Get("Content-Type"))
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("the error body is not JSON: %w", err)
	}
	if err := c.errors.VisitJSON(value, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("the body is not the Error schema: %w", err)
	}
	return nil
}

// CheckResponse is Check for a client's answer (res.Request is the
// request). It reads the body, returns it and puts it back in res.Body.
func CheckResponse(res *http.Response) ([]byte, error) {
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return body, fmt.Errorf("openapi: read the answer: %w", err)
	}
	if res.Request == nil {
		return body, errors.New("openapi: the answer has no Request")
	}
	return body, Check(res.Request, res.StatusCode, res.Header, body)
}

// CheckRequest validates req against the document: its operation exists,
// its path and query parameters match (no unknown query parameter, none
// given twice: the service refuses both), and it carries a bearer token
// where the document requires one. The token's scopes are not looked at.
func CheckRequest(req *http.Request) error {
	c, err := load()
	if err != nil {
		return err
	}
	if err := c.checkRequest(req); err != nil {
		return fmt.Errorf("openapi: request %s %s: %w", req.Method, req.URL.RequestURI(), err)
	}
	return nil
}

func (c *checker) checkRequest(req *http.Request) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return err
	}
	var errs []error
	declared := map[string]bool{}
	for _, p := range route.Operation.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
			declared[p.Value.Name] = true
		}
	}
	query := req.URL.Query()
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case !declared[name]:
			errs = append(errs, fmt.Errorf("query parameter %q is not defined for this operation", name))
		case len(query[name]) > 1:
			errs = append(errs, fmt.Errorf("query parameter %q is given %d times", name, len(query[name])))
		}
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true, // never add the defaults to the caller's request
			AuthenticationFunc:  bearerToken,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// bearerToken satisfies both of the document's security schemes (an http
// bearer and an OpenID Connect one, the same token) when the request sends
// Authorization: Bearer <something>.
func bearerToken(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return fmt.Errorf("security scheme %s: no Authorization: Bearer <token>", in.SecuritySchemeName)
	}
	return nil
}

// MustCheck is Check that fails the test (Fatal): call it from the test's
// own goroutine (Transport reports from any goroutine).
func MustCheck(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	if err := Check(req, status, header, body); err != nil {
		tb.Fatal(err)
	}
}

// MustCheckResponse is CheckResponse that fails the test (Fatal) and
// returns the body.
func MustCheckResponse(tb testing.TB, res *http.Response) []byte {
	tb.Helper()
	body, err := CheckResponse(res)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// MustCheckRequest is CheckRequest that fails the test (Fatal).
func MustCheckRequest(tb testing.TB, req *http.Request) {
	tb.Helper()
	if err := CheckRequest(req); err != nil {
		tb.Fatal(err)
	}
}

// Transport is an http.RoundTripper that checks every answer that comes
// through next (http.DefaultTransport when nil) and reports an invalid one
// with tb.Errorf, which is safe from any goroutine. The answer is handed on
// unchanged, its body read ahead.
func Transport(tb testing.TB, next http.RoundTripper) http.RoundTripper {
	return transport{next: next, report: func(err error) { tb.Helper(); tb.Error(err) }}
}

type transport struct {
	next   http.RoundTripper
	report func(error)
}

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	res, err := next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	if res.Request == nil {
		res.Request = req
	}
	if _, err := CheckResponse(res); err != nil {
		t.report(err)
	}
	return res, nil
}
