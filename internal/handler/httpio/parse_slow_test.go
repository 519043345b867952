package httpio

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/zeromicro/go-zero/rest/pathvar"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// ranged is a request type the plan does not read (range= is go-zero's
// own option): Parse hands it to httpx.Parse, after its own refusals.
type ranged struct {
	ID    int64  `path:"id"`
	Limit int64  `form:"limit,range=[1:100],default=20"`
	Name  string `form:"name,optional"`
}

func parse(target string, id string, v any) error {
	r := pathvar.WithVars(httptest.NewRequest("GET", target, nil), map[string]string{"id": id})
	return Parse(r, v)
}

func invalid(t *testing.T, err error, mentions string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != errs.InvalidArgument || !strings.Contains(e.Message, mentions) {
		t.Fatalf("err = %v, want invalid_argument mentioning %q", err, mentions)
	}
}

func TestParse_ATypeOffThePlanIsReadByHttpxWithTheSameRefusals(t *testing.T) {
	if planOf(reflect.TypeFor[*ranged]()).fast {
		t.Fatal("a type with range= takes the fast path")
	}
	var v ranged
	if err := parse("/x/7?limit=5&name=a", "7", &v); err != nil || v != (ranged{ID: 7, Limit: 5, Name: "a"}) {
		t.Fatalf("%+v, %v", v, err)
	}
	invalid(t, parse("/x/7?limt=5", "7", &ranged{}), `unknown query parameter "limt" (this route takes: limit, name)`)
	invalid(t, parse("/x/7?limit=5&limit=6", "7", &ranged{}), `query parameter "limit" is given more than once`)
	invalid(t, parse("/x/7?limit=500", "7", &ranged{}), "the request's path or query parameters are malformed")
	invalid(t, parse("/x/07", "07", &ranged{}), `id "07" is not written plainly: write it as 7`)
}

func TestParse_AnUnknownParameterIsQuotedAtMost40Characters(t *testing.T) {
	exact := strings.Repeat("k", 40)
	invalid(t, parse("/x/7?"+exact+"=1", "7", &kinds{}), `unknown query parameter "`+exact+`" (this route takes: name, flag, count, must)`)
	invalid(t, parse("/x/7?"+exact+"k=1", "7", &kinds{}), `unknown query parameter "`+exact+`..."`)
	invalid(t, parse("/x/7?a=1", "7", &struct {
		ID int64 `path:"id"`
	}{}), `unknown query parameter "a" (this route takes: none)`)
}

func TestParse_OptionalAndDefaultOptionsAreHonoured(t *testing.T) {
	var v kinds
	if err := parse("/x/7?must=1", "7", &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "" || !v.Flag || v.Count != 7 || v.Must != 1 || v.ID != 7 {
		t.Fatalf("%+v: want name unset, the defaults flag=true count=7", v)
	}
	invalid(t, parse("/x/7", "7", &kinds{}), "malformed")
}
