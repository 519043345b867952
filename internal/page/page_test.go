package page_test

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/page"
)

// invalidArgument is the message of err when it is an invalid_argument,
// and fails the test otherwise.
func invalidArgument(t *testing.T, err error) string {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidArgument {
		t.Fatalf("err = %v, want invalid_argument", err)
	}
	return e.Message
}

func TestLimit_AcceptsOneToAHundredAndNothingElse(t *testing.T) {
	for _, n := range []int64{page.MinLimit, 2, 50, page.MaxLimit - 1, page.MaxLimit} {
		got, err := page.Limit(n)
		if err != nil || got != int(n) {
			t.Errorf("Limit(%d) = %d, %v: want %d accepted", n, got, err, n)
		}
	}
	for _, n := range []int64{-1, 0, page.MaxLimit + 1, 1 << 40} {
		_, err := page.Limit(n)
		if msg := invalidArgument(t, err); !strings.Contains(msg, "between 1 and 100") {
			t.Errorf("Limit(%d): %q, want the bounds named", n, msg)
		}
	}
}

func TestAfter_TheFirstPageHasNoCursor(t *testing.T) {
	after, err := page.For("/projects").After("", 1)
	if after != nil || err != nil {
		t.Fatalf("After(\"\") = %v, %v: want the first page (nil, nil)", after, err)
	}
}

func TestAfter_ACursorContinuesItsOwnListAfterItsKey(t *testing.T) {
	l := page.For("/project/:id/institutions", "7")
	next := l.Next("Charité", "42")
	if next == nil || *next == "" {
		t.Fatal("Next handed out no cursor")
	}
	if strings.ContainsAny(*next, "+/=") {
		t.Fatalf("cursor %q is not URL-safe", *next)
	}
	after, err := page.For("/project/:id/institutions", "7").After(*next, 2)
	if err != nil || !slices.Equal(after, []string{"Charité", "42"}) {
		t.Fatalf("After = %q, %v: want the key [Charité 42]", after, err)
	}
}

func TestAfter_RefusesACursorOfAnotherListOrOtherFilters(t *testing.T) {
	cursor := *page.For("/projects", "recruiting", "").Next("5")
	for name, other := range map[string]page.List{
		"otherFilterValue": page.For("/projects", "completed", ""),
		"otherRoute":       page.For("/project/:id/reports", "recruiting", ""),
		"selectorsShifted": page.For("/projects", "recruitin", "g"),
		"fewerSelectors":   page.For("/projects", "recruiting"),
	} {
		t.Run(name, func(t *testing.T) {
			after, err := other.After(cursor, 1)
			if msg := invalidArgument(t, err); !strings.Contains(msg, "another list or other filters") || after != nil {
				t.Fatalf("After = %v, %q: want the cursor refused as another list's", after, msg)
			}
		})
	}
}

func TestAfter_RefusesWhatIsNotACursorThisServiceHandedOut(t *testing.T) {
	l := page.For("/projects")
	b64 := base64.RawURLEncoding.EncodeToString
	for name, raw := range map[string]string{
		"notBase64":     "!!not base64!!",
		"paddedBase64":  base64.URLEncoding.EncodeToString([]byte(`{"l":"x","a":["1"]}`)),
		"notJSON":       b64([]byte("hello")),
		"unknownField":  b64([]byte(`{"l":"x","a":["1"],"admin":true}`)),
		"tooManyParts":  *l.Next("1", "2"),
		"tooFewParts":   *l.Next(),
		"afterNotAList": b64([]byte(`{"l":"x","a":"1"}`)),
	} {
		t.Run(name, func(t *testing.T) {
			after, err := l.After(raw, 1)
			if msg := invalidArgument(t, err); !strings.Contains(msg, "not a cursor this service handed out") || after != nil {
				t.Fatalf("After(%q) = %v, %q: want it refused as no cursor", raw, after, msg)
			}
		})
	}
}

// listResp is a page with a next_cursor, as goctl generates them.
type listResp struct {
	Items      []int   `json:"items"`
	NextCursor *string `json:"next_cursor,omitempty"`
}

func linkOf(t *testing.T, target string, v any) []string {
	t.Helper()
	w := httptest.NewRecorder()
	page.SetLink(w, httptest.NewRequest("GET", target, nil), v)
	return w.Header().Values("Link")
}

func TestSetLink_PointsAtTheNextPageWithTheRequestsOwnQuery(t *testing.T) {
	next := "abc_-123"
	links := linkOf(t, "/projects?status=recruiting&limit=5&cursor=old", &listResp{NextCursor: &next})
	if len(links) != 1 {
		t.Fatalf("Link %q, want one", links)
	}
	target, rel, ok := strings.Cut(links[0], ">; ")
	if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "</projects?") {
		t.Fatalf("Link %q, want </projects?...>; rel=\"next\"", links[0])
	}
	u, err := url.Parse(strings.TrimPrefix(target, "<"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("cursor") != next || q.Get("status") != "recruiting" || q.Get("limit") != "5" || len(q["cursor"]) != 1 {
		t.Fatalf("next page's query %v: want the request's filters with the cursor replaced", q)
	}
	if u.Host != "" || u.Scheme != "" {
		t.Fatalf("Link %q is not relative to the request", links[0])
	}
}

func TestSetLink_NoLinkWithoutANextPage(t *testing.T) {
	next := "abc"
	type noField struct{ Items []int }
	type otherType struct {
		NextCursor string `json:"next_cursor"`
	}
	type otherName struct {
		Next *string `json:"next"`
	}
	for name, v := range map[string]any{
		"lastPage":        &listResp{},
		"nilAnswer":       (*listResp)(nil),
		"notAStruct":      []string{"a"},
		"noCursorField":   &noField{},
		"cursorNotAPtr":   &otherType{NextCursor: "abc"},
		"anotherField":    &otherName{Next: &next},
		"nilInterface":    nil,
		"pointerToString": &next,
	} {
		t.Run(name, func(t *testing.T) {
			if links := linkOf(t, "/projects?limit=5", v); len(links) != 0 {
				t.Fatalf("Link %q on an answer with no next page", links)
			}
		})
	}
}

func TestSetLink_ReadsTheCursorOfAnAnswerByValueToo(t *testing.T) {
	next := "xyz"
	for range 2 { // the second time from the per-type cache
		if links := linkOf(t, "/projects", listResp{NextCursor: &next}); len(links) != 1 || !strings.Contains(links[0], "cursor=xyz") {
			t.Fatalf("Link %q, want the next page's cursor xyz", links)
		}
	}
}

// TestSetLink_FindsTheCursorWhereverTheFieldIs: the next_cursor field may
// be any field of the answer, the first included.
func TestSetLink_FindsTheCursorWhereverTheFieldIs(t *testing.T) {
	type cursorFirst struct {
		NextCursor *string `json:"next_cursor"`
		Items      []int   `json:"items"`
	}
	next := "first"
	if links := linkOf(t, "/projects", &cursorFirst{NextCursor: &next}); len(links) != 1 || !strings.Contains(links[0], "cursor=first") {
		t.Fatalf("Link %q, want the next page's cursor", links)
	}
}
