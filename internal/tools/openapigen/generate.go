package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/zeromicro/go-zero/tools/goctl/api/spec"
	"github.com/zeromicro/go-zero/tools/goctl/pkg/parser/api/parser"
)

const jsonType = "application/json"

// generate returns the OpenAPI 3 document of the contract at apiPath, given
// goctl's Swagger 2.0 for it, and warnings about overlay entries that the
// contract no longer needs.
func generate(apiPath string, swagger []byte) ([]byte, []string, error) {
	api, err := parser.Parse(apiPath, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", apiPath, err)
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(swagger, &doc2); err != nil {
		return nil, nil, fmt.Errorf("read goctl's swagger: %w", err)
	}
	// goctl's x-date changes on every run; its other x- keys only advertise goctl.
	doc2.Extensions = nil
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, nil, fmt.Errorf("convert goctl's swagger: %w", err)
	}
	g := &gen{api: api, doc: doc, types: map[string]spec.DefineStruct{}, used: map[string]bool{}}
	for _, t := range api.Types {
		if s, ok := t.(spec.DefineStruct); ok {
			g.types[s.RawName] = s
		}
	}
	if err := g.complete(); err != nil {
		return nil, g.warnings, err
	}
	g.warnStale()
	out, err := encode(doc)
	if err != nil {
		return nil, g.warnings, err
	}
	// What is written must load and validate as it will be served.
	loaded, err := openapi3.NewLoader().LoadFromData(out)
	if err != nil {
		return nil, g.warnings, fmt.Errorf("the generated document does not load: %w", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		return nil, g.warnings, fmt.Errorf("the generated document is not valid OpenAPI 3: %w", err)
	}
	return out, g.warnings, nil
}

// encode writes doc as JSON with sorted keys, a two-space indent and a
// trailing newline, without escaping <, > and & (descriptions quote headers
// such as Bearer <token>). kin-openapi escapes them in its own MarshalJSON,
// so the document goes through a generic value (numbers kept as written)
// and is encoded again.
func encode(doc *openapi3.T) ([]byte, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type gen struct {
	api      *spec.ApiSpec
	doc      *openapi3.T
	types    map[string]spec.DefineStruct
	used     map[string]bool // the overlay entries and .api types the document took
	warnings []string
	// rateLimited: the .api's routes are behind the RateLimit middleware
	// (429s, the RateLimit headers); set before anything is built.
	rateLimited bool
}

// securedHeaders are the headers of every answer of a secured route.
func (g *gen) securedHeaders() []string {
	if g.rateLimited {
		return securedHeaders
	}
	return slices.DeleteFunc(slices.Clone(securedHeaders), func(h string) bool { return strings.HasPrefix(h, "RateLimit") })
}

// errorAnswers are the error table of a secured route.
func (g *gen) errorAnswers() []errorAnswer {
	if g.rateLimited {
		return errorAnswers
	}
	return slices.DeleteFunc(slices.Clone(errorAnswers), func(e errorAnswer) bool { return e.status == http.StatusTooManyRequests })
}

func (g *gen) warnf(format string, args ...any) {
	if w := fmt.Sprintf(format, args...); !slices.Contains(g.warnings, w) {
		g.warnings = append(g.warnings, w)
	}
}

func (g *gen) complete() error {
	if err := g.info(); err != nil {
		return err
	}
	limited, err := g.middlewares()
	if err != nil {
		return err
	}
	g.rateLimited = limited
	g.components()
	var goctlOps []string
	for path, item := range g.doc.Paths.Map() {
		for method := range item.Operations() {
			goctlOps = append(goctlOps, method+" "+path)
		}
	}
	routes, err := g.routes()
	if err != nil {
		return err
	}
	slices.Sort(goctlOps)
	for _, op := range goctlOps {
		if !routes[op] {
			return fmt.Errorf("goctl's swagger has %s, which the .api does not define", op)
		}
	}
	for _, r := range unsecuredRoutes {
		if g.doc.Paths.Value(r.path) != nil {
			return fmt.Errorf("%s is both in project.api and among the overlay's unsecured routes", r.path)
		}
		g.doc.Paths.Set(r.path, &openapi3.PathItem{Get: g.unsecuredOperation(r)})
	}
	// Secured unless an operation says otherwise (security: []).
	g.doc.Security = securedRequirements()
	return nil
}

// info: title, description and version from the .api's info() block
// (goctl v1.10.2 drops desc).
func (g *gen) info() error {
	p := g.api.Info.Properties
	title, desc, version := unquote(p["title"]), unquote(p["desc"]), unquote(p["version"])
	if title == "" || version == "" {
		return fmt.Errorf("the .api's info() block needs a title and a version")
	}
	g.doc.Info = &openapi3.Info{Title: title, Description: desc, Version: version}
	return nil
}

func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// components: the error body, the probes' bodies, the headers, the error
// responses and the security schemes. The .api's types are added as the
// routes reach them (schemaOf).
func (g *gen) components() {
	c := g.doc.Components
	if c.Schemas == nil {
		c.Schemas = openapi3.Schemas{}
	}
	codes := make([]any, len(errorCodes))
	for i, code := range errorCodes {
		codes[i] = code
	}
	c.Schemas["Error"] = openapi3.NewSchemaRef("", &openapi3.Schema{
		Type:        &openapi3.Types{"object"},
		Description: errorDescription,
		Properties: openapi3.Schemas{
			"code":    openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: codes, Description: "What failed, stable: clients switch on it."}),
			"message": openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Description: "What failed, for people; it may change."}),
		},
		Required:             []string{"code", "message"},
		AdditionalProperties: openapi3.AdditionalProperties{Has: openapi3.Ptr(false)},
	})
	for name, status := range probeStatus {
		c.Schemas[name] = openapi3.NewSchemaRef("", &openapi3.Schema{
			Type: &openapi3.Types{"object"},
			Properties: openapi3.Schemas{
				"status": openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: []any{status}}),
			},
			Required:             []string{"status"},
			AdditionalProperties: openapi3.AdditionalProperties{Has: openapi3.Ptr(false)},
		})
	}

	c.Headers = openapi3.Headers{}
	for name, h := range headers {
		schema := &openapi3.Schema{Type: &openapi3.Types{"string"}}
		if h.integer {
			schema = &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: openapi3.Ptr(0.0)}
		}
		c.Headers[name] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: h.description,
			Required:    h.required,
			Schema:      openapi3.NewSchemaRef("", schema),
		}}}
	}

	c.Responses = openapi3.ResponseBodies{
		"NotModified":     g.response(notModifiedDescription, nil, g.securedHeaders(), validatorHeaders),
		"NotModifiedHead": g.response(notModifiedDescription, nil, g.securedHeaders(), validatorHeaders),
	}
	for _, e := range g.errorAnswers() {
		c.Responses[e.name] = g.response(e.description, errorBody(), g.securedHeaders(), errorHeaders, e.headers)
		c.Responses[e.name+"Head"] = g.response(e.description+" No body (HEAD).", nil, g.securedHeaders(), errorHeaders, e.headers)
	}

	c.SecuritySchemes = openapi3.SecuritySchemes{
		bearerScheme: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: bearerSchemeDescription,
		}},
		oidcScheme: &openapi3.SecuritySchemeRef{Value: &openapi3.SecurityScheme{
			Type: "openIdConnect", OpenIdConnectUrl: issuerPlaceholder + "/.well-known/openid-configuration", Description: oidcSchemeDescription,
		}},
	}
}

func securedRequirements() openapi3.SecurityRequirements {
	return openapi3.SecurityRequirements{
		{bearerScheme: []string{}, oidcScheme: []string{scopeReadAll}},
		{bearerScheme: []string{}, oidcScheme: []string{scopeRead}},
	}
}

func errorBody() *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("#/components/schemas/Error", nil)
}

// response is a response with a JSON body (none when body is nil) and the
// named headers, each a reference to components/headers.
func (g *gen) response(description string, body *openapi3.SchemaRef, headerLists ...[]string) *openapi3.ResponseRef {
	r := &openapi3.Response{Description: openapi3.Ptr(description), Headers: openapi3.Headers{}}
	for _, list := range headerLists {
		for _, name := range list {
			r.Headers[name] = &openapi3.HeaderRef{Ref: "#/components/headers/" + name}
		}
	}
	if body != nil {
		r.Content = openapi3.NewContentWithSchemaRef(body, []string{jsonType})
	}
	return &openapi3.ResponseRef{Value: r}
}

func ref(name string) *openapi3.ResponseRef {
	return &openapi3.ResponseRef{Ref: "#/components/responses/" + name}
}

// routes completes goctl's operation of every route of the .api, adds its
// HEAD, and returns the "METHOD path" of every operation it took from goctl.
func (g *gen) routes() (map[string]bool, error) {
	seen := map[string]bool{}
	for _, group := range g.api.Service.JoinPrefix().Groups {
		for _, route := range group.Routes {
			method := strings.ToUpper(route.Method)
			if method != http.MethodGet {
				return nil, fmt.Errorf("%s %s: only GET routes are described (the service answers HEAD for each)", method, route.Path)
			}
			path := swaggerPath(route.Path)
			item := g.doc.Paths.Value(path)
			var op *openapi3.Operation
			if item != nil {
				op = item.GetOperation(method)
			}
			if op == nil {
				return nil, fmt.Errorf("goctl's swagger has no %s %s", method, path)
			}
			seen[method+" "+path] = true
			if err := g.operation(op, group, route); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			item.Head = g.head(op)
		}
	}
	return seen, nil
}

// middlewares checks that every group is behind Audit and Auth (the error
// table and headers describe them: a group without them would need
// another), and reports whether they are behind RateLimit too — all of
// them, or none.
func (g *gen) middlewares() (rateLimited bool, err error) {
	var limited, unlimited []string
	for _, group := range g.api.Service.JoinPrefix().Groups {
		name := group.GetAnnotation("group")
		var middlewares []string
		for _, m := range strings.Split(group.GetAnnotation("middleware"), ",") {
			middlewares = append(middlewares, strings.TrimSpace(m))
		}
		for _, m := range []string{"Audit", "Auth"} {
			if !slices.Contains(middlewares, m) {
				return false, fmt.Errorf("group %q lacks the %s middleware: the overlay only describes routes behind Audit and Auth", name, m)
			}
		}
		if slices.Contains(middlewares, "RateLimit") {
			limited = append(limited, name)
		} else {
			unlimited = append(unlimited, name)
		}
	}
	if len(limited) > 0 && len(unlimited) > 0 {
		return false, fmt.Errorf("groups %v are behind RateLimit and %v are not: the error table describes one or the other", limited, unlimited)
	}
	return len(limited) > 0, nil
}

// swaggerPath turns go-zero's /project/:id into OpenAPI's /project/{id}.
func swaggerPath(p string) string {
	segments := strings.Split(p, "/")
	for i, s := range segments {
		if strings.HasPrefix(s, ":") {
			segments[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segments, "/")
}

func (g *gen) operation(op *openapi3.Operation, group spec.Group, route spec.Route) error {
	if len(op.Tags) == 0 {
		if name := group.GetAnnotation("group"); name != "" {
			op.Tags = []string{name}
		}
	}
	if op.Summary == "" {
		return fmt.Errorf("no summary: give the route an @doc in project.api")
	}
	op.Description = securedDescription + " " + queryDescription

	req, ok := route.RequestType.(spec.DefineStruct)
	if !ok && len(op.Parameters) > 0 {
		return fmt.Errorf("goctl lists parameters but the route has no request type")
	}
	if err := g.parameters(op, req); err != nil {
		return err
	}

	resp, ok := route.ResponseType.(spec.DefineStruct)
	if !ok {
		return fmt.Errorf("the route returns no struct type")
	}
	ok200 := op.Responses.Status(http.StatusOK)
	if ok200 == nil || ok200.Value == nil {
		return fmt.Errorf("goctl's swagger has no 200")
	}
	var goctlBody *openapi3.SchemaRef
	if mt := ok200.Value.Content.Get(jsonType); mt != nil {
		goctlBody = mt.Schema
	}
	body, err := g.schemaOf(resp)
	if err != nil {
		return err
	}
	// goctl inlines every type; the .api-derived schema must have the same
	// shape before it replaces goctl's (same properties, types, required).
	// goctl v1.10.2 leaves out the top-level object's required list (it
	// writes the nested types' lists): that gap is not a difference.
	if goctlBody != nil && goctlBody.Value != nil && len(goctlBody.Value.Required) == 0 {
		top := *goctlBody.Value
		top.Required = g.doc.Components.Schemas[resp.RawName].Value.Required
		goctlBody = openapi3.NewSchemaRef("", &top)
	}
	if want, got := g.shape(goctlBody), g.shape(body); want != got {
		return fmt.Errorf("goctl's 200 body and the .api's %s differ:\n  goctl: %s\n  .api:  %s", resp.RawName, want, got)
	}

	validators := validatorHeaders
	if g.paginated(resp) {
		validators = append(slices.Clone(validators), "Link")
	}
	op.Responses = openapi3.NewResponses(
		openapi3.WithStatus(http.StatusOK, g.response(okDescription, body, g.securedHeaders(), validators)),
		openapi3.WithStatus(http.StatusNotModified, ref("NotModified")),
	)
	for _, e := range g.errorAnswers() {
		op.Responses.Set(strconv.Itoa(e.status), ref(e.name))
	}
	return nil
}

// paginated: the response type has the pagination field.
func (g *gen) paginated(t spec.DefineStruct) bool {
	for _, m := range t.Members {
		if name, _ := jsonName(m); name == paginationField {
			return true
		}
	}
	return false
}

// head is the HEAD of a GET: the same parameters, the same statuses and
// headers, no bodies. A HEAD with a matching If-None-Match is answered 304
// too (the conditional middleware runs for it as for the GET).
func (g *gen) head(get *openapi3.Operation) *openapi3.Operation {
	head := &openapi3.Operation{
		Tags:        get.Tags,
		Summary:     get.Summary + " (headers only)",
		Description: headDescription + " " + get.Description,
		OperationID: get.OperationID + "Head",
		Parameters:  get.Parameters,
		Responses:   openapi3.NewResponses(),
	}
	ok := get.Responses.Status(http.StatusOK).Value
	okHead := *ok
	okHead.Description = openapi3.Ptr(*ok.Description + " No body (HEAD).")
	okHead.Content = nil
	head.Responses.Set("200", &openapi3.ResponseRef{Value: &okHead})
	head.Responses.Set("304", ref("NotModifiedHead"))
	for _, e := range g.errorAnswers() {
		head.Responses.Set(strconv.Itoa(e.status), ref(e.name+"Head"))
	}
	return head
}

func (g *gen) unsecuredOperation(r unsecuredRoute) *openapi3.Operation {
	body := openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"object"}, Description: "An OpenAPI 3.0 document."})
	if r.schema != "" {
		body = openapi3.NewSchemaRef("#/components/schemas/"+r.schema, nil)
	}
	op := &openapi3.Operation{
		Tags:        []string{serviceTag},
		Summary:     r.summary,
		Description: r.description + " No token needed.",
		OperationID: r.operationID,
		Security:    &openapi3.SecurityRequirements{},
		Responses:   openapi3.NewResponses(openapi3.WithStatus(http.StatusOK, g.response("OK.", body, anyHeaders))),
	}
	for _, e := range unsecuredErrors {
		op.Responses.Set(strconv.Itoa(e.status), g.response(e.description, errorBody(), anyHeaders, e.headers))
	}
	return op
}
