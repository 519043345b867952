package httpio

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

func TestMain(m *testing.M) {
	httpx.SetErrorHandlerCtx(errs.Handle) // as server.New does
	os.Exit(m.Run())
}

type answer struct {
	Title      string  `json:"title"`
	NextCursor *string `json:"next_cursor"`
}

func reply(t *testing.T, v any, ifNoneMatch ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/projects?limit=2", nil)
	for _, v := range ifNoneMatch {
		r.Header.Add("If-None-Match", v)
	}
	w := httptest.NewRecorder()
	OkJSON(w, r, v)
	return w
}

var strongTag = regexp.MustCompile(`^"[A-Za-z0-9_-]{24}"$`)

func TestOkJSON_AnswersTheBytesHttpxWritesWithItsValidators(t *testing.T) {
	v := answer{Title: "<b>Phase III & more</b>"}
	w := reply(t, v)
	want := httptest.NewRecorder()
	httpx.OkJson(want, v)
	if w.Code != http.StatusOK || w.Body.String() != want.Body.String() {
		t.Fatalf("%d %q, want 200 %q (httpx's bytes: no HTML escaping, no newline)", w.Code, w.Body, want.Body)
	}
	h := w.Header()
	if h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Cache-Control") != "private, no-cache" || h.Get("Vary") != "Authorization" {
		t.Fatalf("headers %v", h)
	}
	if tag := h.Get("Etag"); !strongTag.MatchString(tag) {
		t.Fatalf("ETag %q, want a strong tag of 24 URL-safe characters", tag)
	}
	if h.Get("Link") != "" {
		t.Fatalf("Link %q on an answer without a next page", h.Get("Link"))
	}
}

func TestOkJSON_TheETagIsADigestOfTheExactBytes(t *testing.T) {
	a, b := reply(t, answer{Title: "a"}), reply(t, answer{Title: "b"})
	again := reply(t, answer{Title: "a"})
	if a.Header().Get("Etag") == b.Header().Get("Etag") {
		t.Fatal("two representations share an ETag")
	}
	if a.Header().Get("Etag") != again.Header().Get("Etag") {
		t.Fatal("the same representation got two ETags")
	}
}

func TestOkJSON_IfNoneMatchNamingTheRepresentationIs304(t *testing.T) {
	tag := reply(t, answer{Title: "a"}).Header().Get("Etag")
	for name, values := range map[string][]string{
		"exact":        {tag},
		"weak":         {"W/" + tag},
		"any":          {"*"},
		"inAList":      {`"other", ` + tag},
		"inAListSpace": {`"other",` + tag + ` , "third"`},
		"secondHeader": {`"other"`, tag},
	} {
		t.Run(name, func(t *testing.T) {
			w := reply(t, answer{Title: "a"}, values...)
			if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
				t.Fatalf("%d %q (Content-Type %q), want 304 and no body", w.Code, w.Body, w.Header().Get("Content-Type"))
			}
			if w.Header().Get("Etag") != tag || w.Header().Get("Cache-Control") != "private, no-cache" {
				t.Fatalf("a 304 without its validators: %v", w.Header())
			}
		})
	}
	for name, values := range map[string][]string{
		"otherTag":    {`"other"`},
		"unquoted":    {strings.Trim(tag, `"`)},
		"tagAsPrefix": {strings.TrimSuffix(tag, `"`) + `x"`},
		"empty":       {""},
	} {
		t.Run("not/"+name, func(t *testing.T) {
			if w := reply(t, answer{Title: "a"}, values...); w.Code != http.StatusOK || w.Body.Len() == 0 {
				t.Fatalf("If-None-Match %q: %d, want 200 with the body", values, w.Code)
			}
		})
	}
}

func TestOkJSON_APageThatGoesOnLinksItsNextPage(t *testing.T) {
	next := "c2"
	w := reply(t, answer{Title: "a", NextCursor: &next})
	if got := w.Header().Get("Link"); got != `</projects?cursor=c2&limit=2>; rel="next"` {
		t.Fatalf("Link %q", got)
	}
}

func TestOkJSON_AValueThatCannotBeEncodedIs500WithNothingOfIt(t *testing.T) {
	w := reply(t, map[string]float64{"x": math.Inf(1)})
	var body errs.Body
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if w.Code != http.StatusInternalServerError || body.Code != errs.Internal || w.Header().Get("Etag") != "" {
		t.Fatalf("%d %q (ETag %q), want 500 internal without validators", w.Code, w.Body, w.Header().Get("Etag"))
	}
	// The encoder that failed is fit for the next answer.
	if w := reply(t, answer{Title: "ok"}); w.Code != http.StatusOK || w.Body.String() != `{"title":"ok","next_cursor":null}` {
		t.Fatalf("the answer after a failed one: %d %q", w.Code, w.Body)
	}
}

// TestOkJSON_ReusesItsBuffersUpToTheirBound: answers are encoded into
// pooled buffers, so answering allocates (almost) nothing per answer; a
// buffer grown past maxPooledBody is not kept.
func TestOkJSON_ReusesItsBuffersUpToTheirBound(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	v := answer{Title: strings.Repeat("x", 4096)}
	r := httptest.NewRequest(http.MethodGet, "/projects", nil)
	w := &discard{h: http.Header{}}
	OkJSON(w, r, v)
	allocs := testing.AllocsPerRun(200, func() {
		clear(w.h)
		OkJSON(w, r, v)
	})
	// the ETag string, its header slice, the Link check; a buffer not
	// reused costs the 4 KiB buffer's growth on top.
	if allocs > 4 {
		t.Fatalf("%.1f allocations per answer, want at most 4: the buffers are not reused", allocs)
	}
	big := answer{Title: strings.Repeat("y", maxPooledBody+1)}
	OkJSON(w, r, big)
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	if e.buf.Cap() > maxPooledBody {
		t.Fatalf("a %d-byte buffer was kept for reuse (bound %d)", e.buf.Cap(), maxPooledBody)
	}
}

// discard is a ResponseWriter that keeps nothing but its header.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
