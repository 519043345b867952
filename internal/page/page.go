// Package page is keyset paging, in one place for every list of the API:
// the bounds of ?limit=, the opaque cursor a page hands out to continue
// after its last item, and the RFC 8288 Link to the next page.
//
// A cursor names where the previous page ended (the sort key of its last
// item) and which list it belongs to: a fingerprint of the list and its
// filters. A cursor from another list or other filters, or one that is not
// a cursor at all, is refused — a page is never silently the wrong one.
// Cursors are not secret: the caller's grant applies to every page, so a
// crafted cursor can only start a page elsewhere in what it may read.
package page

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// The bounds of ?limit= (its default is in project.api).
const (
	MinLimit = 1
	MaxLimit = 100
)

// Limit checks a page size.
func Limit(n int64) (int, error) {
	if n < MinLimit || n > MaxLimit {
		return 0, errs.Newf(errs.InvalidArgument, "limit must be between %d and %d, got %d", MinLimit, MaxLimit, n)
	}
	return int(n), nil
}

// List names a list and its filters: two cursors continue each other only
// when their lists are equal. Build it with For.
type List struct{ fingerprint string }

// For is the list named by its route and the values that select its items
// (the filters, the project whose sub-list it is), in a fixed order.
func For(route string, selectors ...string) List {
	h := sha256.New()
	h.Write([]byte(route))
	for _, s := range selectors {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return List{fingerprint: base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:9])}
}

// cursor is what a cursor carries: its list, and the sort key after which
// the next page starts.
type cursor struct {
	List  string   `json:"l"`
	After []string `json:"a"`
}

// Next is the cursor continuing l after the item whose sort key is after.
func (l List) Next(after ...string) *string {
	b, _ := json.Marshal(cursor{List: l.fingerprint, After: after})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

// After reads a cursor of l (empty: the first page, nil) into the sort key
// it continues after, which must have n parts. Anything else is an
// invalid_argument naming what is wrong.
func (l List) After(raw string, n int) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var c cursor
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&c)
	}
	switch {
	case err != nil || len(c.After) != n:
		return nil, errs.Newf(errs.InvalidArgument, "cursor is not a cursor this service handed out: start again without it")
	case c.List != l.fingerprint:
		return nil, errs.Newf(errs.InvalidArgument, "cursor belongs to another list or other filters: use it with the query that returned it, or start again without it")
	}
	return c.After, nil
}

// SetLink adds the RFC 8288 Link header to the next page of the answer v
// (a …Resp type with a next_cursor field) when it has one: the
// request's own path and query with the cursor replaced, relative to the
// request (RFC 8288 §3.1 resolves it against the request's URI).
func SetLink(w http.ResponseWriter, r *http.Request, v any) {
	next := nextCursor(v)
	if next == "" {
		return
	}
	q := r.URL.Query()
	q.Set("cursor", next)
	w.Header()["Link"] = []string{"<" + r.URL.Path + "?" + q.Encode() + `>; rel="next"`}
}

// nextCursor is v's next_cursor ("" when v has none, or it is null), found
// once per type.
func nextCursor(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	i := nextFieldOf(rv.Type())
	if i < 0 {
		return ""
	}
	p, ok := rv.Field(i).Interface().(*string)
	if !ok || p == nil {
		return ""
	}
	return *p
}

var nextFields sync.Map // reflect.Type -> int (-1: none)

func nextFieldOf(t reflect.Type) int {
	if i, ok := nextFields.Load(t); ok {
		return i.(int)
	}
	index := -1
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "next_cursor" && t.Field(i).Type == reflect.TypeFor[*string]() {
			index = i
		}
	}
	nextFields.Store(t, index)
	return index
}
