package httpio

import (
	"errors"
	"net/http/httptest"
	"reflect"
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
// result: the same values, or an error on both sides — with the same
// message when the input is a bad number.
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
	}
	for _, in := range inputs {
		for _, newReq := range []func() any{func() any { return new(types.ProjectDetailsReq) }, func() any { return new(kinds) }} {
			target := "/x/" + in.id + "?" + in.query
			r := pathvar.WithVars(httptest.NewRequest("GET", "/x", nil), map[string]string{"id": in.id})
			r.URL.RawQuery = in.query
			fast, slow := newReq(), newReq()
			errFast := Parse(r, fast)
			errSlow := httpx.Parse(r, slow)
			if (errFast == nil) != (errSlow == nil) {
				t.Fatalf("%s into %T: fast path err %v, httpx.Parse err %v", target, fast, errFast, errSlow)
			}
			if errFast == nil && !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s: fast path %+v, httpx.Parse %+v", target, fast, slow)
			}
			var e *errs.Error
			if errFast != nil && (!errors.As(errFast, &e) || e.Code != errs.InvalidArgument) {
				t.Fatalf("%s: %v is not invalid_argument", target, errFast)
			}
			if errFast != nil && errs.InvalidRequest(errSlow).Message != e.Message && e.Message != errs.InvalidRequest(errors.New("")).Message {
				t.Errorf("%s: fast path says %q, httpx.Parse would say %q", target, e.Message, errs.InvalidRequest(errSlow).Message)
			}
		}
	}
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
