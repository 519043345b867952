// Package httpio is the handlers' side of HTTP (the handler template calls
// it): Parse reads a request into its goctl-generated type, OkJSON writes
// the answer.
package httpio

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/pathvar"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// maxFormValues is go-zero's limit of non-empty query values (httpx).
const maxFormValues = 2048

// Parse fills v (a pointer to a request type) from r's path and query, as
// httpx.Parse does. Every failure is an *errs.Error of kind InvalidArgument.
//
// It refuses what httpx.Parse would otherwise guess at or let through:
//
//   - a query parameter the type does not declare (a misspelt ?report=5
//     would silently be the default);
//   - a query parameter given more than once (go-zero folds "name" and
//     "name[]" into one key and picks one of several values; a request
//     means one thing or it is refused);
//   - a path integer not written the one way it is written back (a sign,
//     leading zeros: /project/+1, /project/007): a resource has one name.
//
// Request types made only of path and form fields of integer, string or
// bool kind, with go-zero's default and optional options, are read by a
// plan built once per type (go-zero's mapping costs ~40 allocations per
// request); any other type goes to httpx.Parse. The tests check both read
// every input alike.
func Parse(r *http.Request, v any) error {
	p := planOf(reflect.TypeOf(v))
	if err := refuseNonCanonical(pathvar.Vars(r), p.pathInts); err != nil {
		return err
	}
	if !p.fast {
		if err := refuseUnexpected(r.URL.Query(), p.formNames); err != nil {
			return err
		}
		if err := httpx.Parse(r, v); err != nil {
			return errs.InvalidRequest(err)
		}
		return nil
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errs.InvalidRequest(err)
	}
	if err := refuseUnexpected(query, p.formNames); err != nil {
		return err
	}
	if n := nonEmpty(query); n > maxFormValues {
		return errs.Newf(errs.InvalidArgument, "too many query values (%d; at most %d)", n, maxFormValues)
	}
	vars := pathvar.Vars(r)
	rv := reflect.ValueOf(v).Elem()
	for _, f := range p.fields {
		if f.skip {
			continue
		}
		raw := vars[f.name]
		if !f.fromPath {
			raw = first(query[f.name], query[f.name+"[]"])
		}
		if raw == "" {
			switch {
			case f.hasDefault:
				raw = f.def
			case f.optional:
				continue
			default:
				return errs.InvalidRequest(errors.New("field " + f.name + " is not set"))
			}
		}
		if err := set(rv.Field(f.index), raw); err != nil {
			return errs.InvalidRequest(err)
		}
	}
	return nil
}

// refuseUnexpected refuses a query parameter that is not among names, or
// that is given more than once (as name or go-zero's name[]).
func refuseUnexpected(query url.Values, names []string) error {
	for key := range query {
		name := strings.TrimSuffix(key, "[]")
		if !slices.Contains(names, name) {
			return errs.Newf(errs.InvalidArgument, "unknown query parameter %q (this route takes: %s)", truncate(key), takes(names))
		}
		if len(query[name])+len(query[name+"[]"]) > 1 {
			return errs.Newf(errs.InvalidArgument, "query parameter %q is given more than once", name)
		}
	}
	return nil
}

func takes(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// refuseNonCanonical refuses a path integer written otherwise than
// strconv writes it back: with a '+', leading zeros or "-0". Values that
// are not decimal integers at all are left to the parsing, which names them.
func refuseNonCanonical(vars map[string]string, names []string) error {
	for _, name := range names {
		raw := vars[name]
		digits := strings.TrimLeft(raw, "+-")
		if len(raw)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue // not a decimal integer: the parsing says so
		}
		plain := strings.TrimLeft(digits, "0")
		if plain == "" {
			plain = "0"
		} else if raw[0] == '-' {
			plain = "-" + plain
		}
		if plain != raw {
			return errs.Newf(errs.InvalidArgument, "%s %q is not written plainly: write it as %s (no sign, no leading zeros)", name, truncate(raw), truncate(plain))
		}
	}
	return nil
}

// truncate bounds how much of a client's input is quoted back.
func truncate(s string) string {
	const maxEcho = 40
	if len(s) > maxEcho {
		return s[:maxEcho] + "..."
	}
	return s
}

// first is the first non-empty value (go-zero ignores empty ones).
func first(lists ...[]string) string {
	for _, l := range lists {
		for _, v := range l {
			if v != "" {
				return v
			}
		}
	}
	return ""
}

func nonEmpty(query url.Values) int {
	n := 0
	for _, vs := range query {
		for _, v := range vs {
			if v != "" {
				n++
			}
		}
	}
	return n
}

func set(f reflect.Value, raw string) error {
	switch f.Kind() {
	case reflect.String:
		f.SetString(raw)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, f.Type().Bits())
		if err != nil {
			return err
		}
		f.SetUint(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not a boolean") // not a number error: the generic message
		}
		f.SetBool(b)
	}
	return nil
}

// plan is how a request type is read.
type plan struct {
	fast      bool // every field is a path or form field of a supported kind and options
	fields    []fieldPlan
	formNames []string
	pathInts  []string // the path fields of integer kind
}

type fieldPlan struct {
	index      int
	name       string
	fromPath   bool
	def        string
	hasDefault bool
	optional   bool
	skip       bool // form:"-"
}

var plans sync.Map // reflect.Type -> *plan

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{fast: t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct}
	if p.fast {
		s := t.Elem()
		for i := range s.NumField() {
			f := s.Field(i)
			fp, formName, ok := fieldPlanOf(i, f)
			if formName != "" {
				p.formNames = append(p.formNames, formName)
			}
			if fp.fromPath && isInt(f.Type.Kind()) {
				p.pathInts = append(p.pathInts, fp.name)
			}
			if !ok {
				p.fast = false
			}
			p.fields = append(p.fields, fp)
		}
	}
	plans.Store(t, p)
	return p
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// fieldPlanOf reads a field's path:"..." or form:"..." tag; ok is false
// for anything the fast path does not handle exactly as go-zero does.
func fieldPlanOf(i int, f reflect.StructField) (fp fieldPlan, formName string, ok bool) {
	tag, fromPath := f.Tag.Lookup("path")
	if !fromPath {
		var isForm bool
		if tag, isForm = f.Tag.Lookup("form"); !isForm {
			return fp, "", false
		}
	}
	name, options, _ := strings.Cut(tag, ",")
	fp = fieldPlan{index: i, name: name, fromPath: fromPath}
	if name == "-" {
		fp.skip = true
		return fp, "", true
	}
	if !fromPath {
		formName = name
	}
	switch f.Type.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return fp, formName, false
	}
	if name == "" || f.Tag.Get("json") != "" || f.Tag.Get("header") != "" || (fromPath && f.Tag.Get("form") != "") {
		return fp, formName, false // no name, or another source beside it
	}
	for _, opt := range strings.Split(options, ",") {
		switch {
		case opt == "":
		case opt == "optional":
			fp.optional = true
		case strings.HasPrefix(opt, "default="):
			fp.def, fp.hasDefault = strings.TrimPrefix(opt, "default="), true
		default:
			return fp, formName, false // options=, range=, ...: go-zero's mapping
		}
	}
	return fp, formName, true
}
