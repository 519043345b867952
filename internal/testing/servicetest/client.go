package servicetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/openapitest"
)

// Answer is what a client saw.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// Get fetches url and reads the whole answer.
func Get(t testing.TB, url string) Answer {
	t.Helper()
	return Do(t, http.MethodGet, url, nil)
}

// Do sends a request with the given headers and reads the whole answer.
func Do(t testing.TB, method, url string, header http.Header) Answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	// Every answer of the API (it carries X-Request-Id; the DevServer's and
	// other servers' do not) must be one its OpenAPI document describes.
	if res.Header.Get("X-Request-Id") != "" {
		if err := openapitest.Check(req, res.StatusCode, res.Header, b); err != nil {
			t.Errorf("%v\nbody: %.300s", err, b)
		}
	}
	return Answer{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// Leaks are texts that must never reach a client: SQL, driver, Go runtime
// and parser vocabulary.
var Leaks = []string{"strconv", "sql", "SQL", "mysql", "dial tcp", "Error 1", "goroutine", "panic", ".go:", "runtime error", "breaker"}

// DecodeErrorBody decodes an error body strictly — exactly {code,
// message}, a non-empty message, none of Leaks — and says what is wrong
// with it (for callers that cannot fail a test from where they run).
func DecodeErrorBody(body string) (code, message string, err error) {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Message == "" {
		return "", "", fmt.Errorf("error body %q is not {code, message}: %v", body, err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		return "", "", fmt.Errorf("error body %q carries more after its {code, message}", body)
	}
	for _, leak := range Leaks {
		if strings.Contains(body, leak) {
			return e.Code, e.Message, fmt.Errorf("error body %q leaks %q", body, leak)
		}
	}
	return e.Code, e.Message, nil
}

// ErrorBody is DecodeErrorBody failing t.
func ErrorBody(t testing.TB, body string) (code, message string) {
	t.Helper()
	code, message, err := DecodeErrorBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return code, message
}

// ErrorCode is the code of a strict, leak-free error body.
func ErrorCode(t testing.TB, body string) string {
	t.Helper()
	code, _ := ErrorBody(t, body)
	return code
}

// Eventually polls cond every 10 ms until it holds (true) or within passes (false).
func Eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
