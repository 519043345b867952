// Package params parses a request into its goctl-generated request type for
// the handlers (the handler template calls Parse), and refuses what
// httpx.Parse would otherwise guess at: a query parameter of the type given
// more than once. go-zero folds "name" and "name[]" into one key and picks
// one of several values; a request means one thing or it is refused.
// Parameters the type does not declare are ignored, repeated or not.
package params

import (
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// Parse fills v (a pointer to a request type) from r's path, query and body
// with httpx.Parse. Every failure is an *errs.Error of kind InvalidArgument.
func Parse(r *http.Request, v any) error {
	if names := formNames(reflect.TypeOf(v)); len(names) > 0 {
		query := r.URL.Query()
		for _, name := range names {
			if len(query[name])+len(query[name+"[]"]) > 1 {
				return errs.Newf(errs.InvalidArgument, "query parameter %q is given more than once", name)
			}
		}
	}
	if err := httpx.Parse(r, v); err != nil {
		return errs.InvalidRequest(err)
	}
	return nil
}

var formNamesOf sync.Map // reflect.Type -> []string

// formNames lists the names of the form (query) fields of a request type,
// read once per type from its `form:"name,..."` tags.
func formNames(t reflect.Type) []string {
	if names, ok := formNamesOf.Load(t); ok {
		return names.([]string)
	}
	var names []string
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		s := t.Elem()
		for i := range s.NumField() {
			if name, _, _ := strings.Cut(s.Field(i).Tag.Get("form"), ","); name != "" && name != "-" {
				names = append(names, name)
			}
		}
	}
	formNamesOf.Store(t, names)
	return names
}
