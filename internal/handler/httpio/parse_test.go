package httpio

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/pathvar"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/types"
)

// kinds is a request type with every kind and option the fast path reads.
type kinds struct {
	ID     uint64 `path:"id"`
	Name   string `form:"name,optional"`
	Flag   bool   `form:"flag,default=true"`
	Count  int32  `form:"count,default=7"`
	Must   int64  `form:"must"`
	Ignore string `form:"-"`
}

// TestParse_TheFastPathReadsWhatHttpxParseReads runs each input through
// Parse's plan and through httpx.Parse (go-zero's own), and wants the same
// result — the same values, or an error on both sides, with the same
// message when the input is a bad number — except where Parse is stricter
// by design (strictness below): then Parse refuses with invalid_argument.
func TestParse_TheFastPathReadsWhatHttpxParseReads(t *testing.T) {
	if !planOf(reflect.TypeFor[*types.ProjectDetailsReq]()).fast || !planOf(reflect.TypeFor[*kinds]()).fast {
		t.Fatal("the request types do not take the fast path")
	}
	inputs := []struct{ id, query string }{
		{"1", ""}, {"1", "reports=5"}, {"42", "reports=100"}, {"abc", ""}, {"-1", ""}, {"+1", "reports=05"},
		{"1.5", ""}, {"1e3", ""}, {"9223372036854775808", ""}, {"", ""}, {"1", "reports="}, {"1", "reports=x"},
		{"1", "reports=+5"}, {"1", "reports=%2B5"}, {"1", "reports[]=7"}, {"1", "reports=99999999999999999999"},
		{"1", "other=1&other=2"}, {"1", "reports=%zz"}, {"1", "reports=5;x=1"}, {"1", "Reports=3"},
		{"7", "must=1"}, {"7", "must=1&name=x&flag=false&count=-3"}, {"7", "must=1&flag=yes"},
		{"7", ""}, {"7", "must=&name="}, {"7", "must=1&count=2147483648"}, {"x", "must=1"}, {"7", "must=1&name[]=y"},
		{"007", "must=1"}, {"-0", ""}, {"0", "institutions=3"},
	}
	strict := 0
	for _, in := range inputs {
		for _, newReq := range []func() any{func() any { return new(types.ProjectDetailsReq) }, func() any { return new(kinds) }} {
			target := "/x/" + in.id + "?" + in.query
			r := pathvar.WithVars(httptest.NewRequest("GET", "/x", nil), map[string]string{"id": in.id})
			r.URL.RawQuery = in.query
			fast, slow := newReq(), newReq()
			errFast := Parse(r, fast)
			errSlow := httpx.Parse(r, slow)
			var e *errs.Error
			if errFast != nil && (!errors.As(errFast, &e) || e.Code != errs.InvalidArgument) {
				t.Fatalf("%s: %v is not invalid_argument", target, errFast)
			}
			if why := strictness(fast, in.id, in.query); why != "" {
				strict++
				if errFast == nil {
					t.Fatalf("%s into %T: accepted, want it refused (%s)", target, fast, why)
				}
				continue
			}
			if (errFast == nil) != (errSlow == nil) {
				t.Fatalf("%s into %T: fast path err %v, httpx.Parse err %v", target, fast, errFast, errSlow)
			}
			if errFast == nil && !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s: fast path %+v, httpx.Parse %+v", target, fast, slow)
			}
			if errFast != nil && errs.InvalidRequest(errSlow).Message != e.Message && e.Message != errs.InvalidRequest(errors.New("")).Message {
				t.Errorf("%s: fast path says %q, httpx.Parse would say %q", target, e.Message, errs.InvalidRequest(errSlow).Message)
			}
		}
	}
	if strict == 0 {
		t.Fatal("no input exercised the strict rules")
	}
}

// strictness says why Parse must refuse an input httpx.Parse may accept
// (empty: no reason): a query parameter the type does not declare, one
// given twice, or a path integer not written as strconv writes it.
func strictness(v any, id, query string) string {
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	declared := map[string]bool{}
	rt := reflect.TypeOf(v).Elem()
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("form"), ","); name != "" && name != "-" {
			declared[name] = true
		}
	}
	for key, values := range q {
		name := strings.TrimSuffix(key, "[]")
		switch {
		case !declared[name]:
			return "unknown parameter " + key
		case len(values)+len(q[name+"[]"])*boolInt(key == name)+len(q[name])*boolInt(key != name) > 1:
			return "repeated parameter " + name
		}
	}
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && strconv.FormatInt(n, 10) != id {
		return "non-canonical id " + id
	}
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && strconv.FormatUint(n, 10) != id {
		return "non-canonical id " + id
	}
	return ""
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParse_RefusesRepeatedParametersOfTheType(t *testing.T) {
	for _, q := range []string{"reports=5&reports=6", "reports=5&reports[]=50", "reports[]=1&reports[]=2"} {
		r := pathvar.WithVars(httptest.NewRequest("GET", "/x?"+q, nil), map[string]string{"id": "1"})
		err := Parse(r, new(types.ProjectDetailsReq))
		var e *errs.Error
		if !errors.As(err, &e) || e.Code != errs.InvalidArgument {
			t.Fatalf("%s: %v, want invalid_argument", q, err)
		}
	}
}
