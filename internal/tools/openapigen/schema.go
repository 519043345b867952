package main

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/zeromicro/go-zero/tools/goctl/api/spec"
)

const schemaPrefix = "#/components/schemas/"

// schemaOf is the schema of an .api type: a struct becomes a named
// component (with its type comment as description) and a reference to it; a
// pointer is nullable (goctl drops that); an integer has its Go size.
func (g *gen) schemaOf(t spec.Type) (*openapi3.SchemaRef, error) {
	switch t := t.(type) {
	case spec.DefineStruct:
		return g.structRef(t.RawName)
	case spec.NestedStruct:
		return nil, fmt.Errorf("anonymous struct %s: name it in the .api", t.RawName)
	case spec.PointerType:
		inner, err := g.schemaOf(t.Type)
		if err != nil {
			return nil, err
		}
		if inner.Ref != "" {
			// nullable beside a $ref is ignored in OpenAPI 3.0.
			return openapi3.NewSchemaRef("", &openapi3.Schema{Nullable: true, AllOf: openapi3.SchemaRefs{inner}}), nil
		}
		v := *inner.Value
		v.Nullable = true
		return openapi3.NewSchemaRef("", &v), nil
	case spec.ArrayType:
		items, err := g.schemaOf(t.Value)
		if err != nil {
			return nil, err
		}
		return openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"array"}, Items: items}), nil
	case spec.MapType:
		if t.Key != "string" {
			return nil, fmt.Errorf("%s: JSON object keys are strings", t.RawName)
		}
		values, err := g.schemaOf(t.Value)
		if err != nil {
			return nil, err
		}
		return openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"object"}, AdditionalProperties: openapi3.AdditionalProperties{Schema: values}}), nil
	case spec.InterfaceType:
		return openapi3.NewSchemaRef("", &openapi3.Schema{}), nil
	case spec.PrimitiveType:
		s, err := primitive(t.RawName)
		if err != nil {
			return nil, err
		}
		return openapi3.NewSchemaRef("", s), nil
	}
	return nil, fmt.Errorf("type %s (%T) has no JSON schema here", t.Name(), t)
}

// primitive maps a Go basic type to a JSON schema: integers with their
// OpenAPI format (int32/int64) and, unsigned, minimum 0. An unsigned 64-bit
// value is written int64: every id the service hands out is a MySQL
// auto-increment far below 2^63, and int64 is what clients can hold.
func primitive(goType string) (*openapi3.Schema, error) {
	integer := func(format string, unsigned bool) *openapi3.Schema {
		s := &openapi3.Schema{Type: &openapi3.Types{"integer"}, Format: format}
		if unsigned {
			s.Min = openapi3.Ptr(0.0)
		}
		return s
	}
	switch goType {
	case "string":
		return &openapi3.Schema{Type: &openapi3.Types{"string"}}, nil
	case "bool":
		return &openapi3.Schema{Type: &openapi3.Types{"boolean"}}, nil
	case "int8", "int16", "int32", "rune":
		return integer("int32", false), nil
	case "int", "int64":
		return integer("int64", false), nil
	case "uint8", "uint16", "byte":
		return integer("int32", true), nil
	case "uint", "uint32", "uint64":
		return integer("int64", true), nil
	case "float32":
		return &openapi3.Schema{Type: &openapi3.Types{"number"}, Format: "float"}, nil
	case "float64":
		return &openapi3.Schema{Type: &openapi3.Types{"number"}, Format: "double"}, nil
	case "any":
		return &openapi3.Schema{}, nil
	}
	return nil, fmt.Errorf("the Go type %s has no JSON schema here", goType)
}

// structRef adds the named .api struct to components/schemas (once) and
// returns a reference to it.
func (g *gen) structRef(name string) (*openapi3.SchemaRef, error) {
	r := openapi3.NewSchemaRef(schemaPrefix+name, nil)
	if _, ok := g.doc.Components.Schemas[name]; ok {
		if !g.used["type:"+name] {
			return nil, fmt.Errorf("the .api's type %s has the name of one of the overlay's schemas", name)
		}
		return r, nil
	}
	t, ok := g.types[name]
	if !ok {
		return nil, fmt.Errorf("no type %s in the .api", name)
	}
	g.used["type:"+name] = true
	s := &openapi3.Schema{Type: &openapi3.Types{"object"}, Description: docText(t.Docs), Properties: openapi3.Schemas{}}
	// A placeholder first, so that a type that refers to itself ends.
	g.doc.Components.Schemas[name] = openapi3.NewSchemaRef("", s)
	members, err := g.flatten(t.Members)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, m := range members {
		prop, options := jsonName(m)
		if prop == "" || prop == "-" {
			return nil, fmt.Errorf("%s.%s has no json tag: response types are JSON", name, m.Name)
		}
		ps, err := g.schemaOf(m.Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, m.Name, err)
		}
		if ps, err = g.fieldFormat(prop, ps); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, m.Name, err)
		}
		if d := memberDoc(m); d != "" {
			if ps.Ref != "" {
				ps = openapi3.NewSchemaRef("", &openapi3.Schema{AllOf: openapi3.SchemaRefs{ps}})
			}
			ps.Value.Description = d
		}
		if _, dup := s.Properties[prop]; dup {
			return nil, fmt.Errorf("%s: two fields are called %q in JSON", name, prop)
		}
		s.Properties[prop] = ps
		if !slices.Contains(options, "optional") && !slices.Contains(options, "omitempty") {
			s.Required = append(s.Required, prop)
		}
	}
	return r, nil
}

// flatten replaces embedded structs by their fields.
func (g *gen) flatten(members []spec.Member) ([]spec.Member, error) {
	var out []spec.Member
	for _, m := range members {
		if !m.IsInline {
			out = append(out, m)
			continue
		}
		t, ok := g.types[strings.TrimPrefix(m.Type.Name(), "*")]
		if !ok {
			return nil, fmt.Errorf("embedded %s is not an .api struct", m.Type.Name())
		}
		inner, err := g.flatten(t.Members)
		if err != nil {
			return nil, err
		}
		out = append(out, inner...)
	}
	return out, nil
}

// fieldFormat gives the overlay's date and date-time fields their format.
func (g *gen) fieldFormat(prop string, ps *openapi3.SchemaRef) (*openapi3.SchemaRef, error) {
	format := ""
	switch {
	case slices.Contains(dateTimeFields, prop):
		format = "date-time"
	case slices.Contains(dateFields, prop):
		format = "date"
	default:
		return ps, nil
	}
	g.used["field:"+prop] = true
	if ps.Ref != "" || ps.Value.Type == nil || !ps.Value.Type.Is("string") {
		return nil, fmt.Errorf("the overlay makes %s a %s, but it is not a string", prop, format)
	}
	ps.Value.Format = format
	return ps, nil
}

// tagOf returns a member's tag of key: its name and options.
func tagOf(m spec.Member, key string) (string, []string, bool) {
	tags, err := spec.Parse(m.Tag)
	if err != nil {
		return "", nil, false
	}
	t, err := tags.Get(key)
	if err != nil {
		return "", nil, false
	}
	return t.Name, t.Options, true
}

func jsonName(m spec.Member) (string, []string) {
	name, options, _ := tagOf(m, "json")
	return name, options
}

// docText joins comment lines into one paragraph, without the comment markers.
func docText(lines []string) string {
	var words []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "//")
		l = strings.TrimPrefix(l, "/*")
		l = strings.TrimSuffix(l, "*/")
		if l = strings.TrimSpace(l); l != "" {
			words = append(words, l)
		}
	}
	return strings.Join(words, " ")
}

// memberDoc is a field's comments: the lines above it, then the one after it.
func memberDoc(m spec.Member) string {
	return docText(append(slices.Clone(m.Docs), m.Comment))
}

// parameters completes goctl's parameters from the request type's fields
// and the overlay.
func (g *gen) parameters(op *openapi3.Operation, req spec.DefineStruct) error {
	members, err := g.flatten(req.Members)
	if err != nil {
		return err
	}
	fields := map[string]spec.Member{} // by "in name"
	for _, m := range members {
		for key, in := range map[string]string{"path": "path", "form": "query", "header": "header"} {
			if name, _, ok := tagOf(m, key); ok {
				fields[in+" "+name] = m
			}
		}
	}
	if len(fields) != len(op.Parameters) {
		return fmt.Errorf("goctl lists %d parameters, the request type %s has %d", len(op.Parameters), req.RawName, len(fields))
	}
	for _, pr := range op.Parameters {
		p := pr.Value
		m, ok := fields[p.In+" "+p.Name]
		if !ok {
			return fmt.Errorf("goctl's %s parameter %s is not a field of %s", p.In, p.Name, req.RawName)
		}
		if err := g.parameter(p, m); err != nil {
			return fmt.Errorf("parameter %s: %w", p.Name, err)
		}
	}
	return nil
}

func (g *gen) parameter(p *openapi3.Parameter, m spec.Member) error {
	prim, ok := m.Type.(spec.PrimitiveType)
	if !ok {
		return fmt.Errorf("%s: only basic types are parameters", m.Type.Name())
	}
	typed, err := primitive(prim.RawName)
	if err != nil {
		return err
	}
	s := p.Schema.Value
	if !reflect.DeepEqual(s.Type, typed.Type) {
		return fmt.Errorf("goctl types it %v, the .api %s", s.Type, prim.RawName)
	}
	// goctl writes "optional" as allowEmptyValue (which openapi2conv even
	// moves into the schema) and a default as required: a parameter is
	// required only when it has neither.
	s.AllowEmptyValue = false
	p.AllowEmptyValue = false
	key := "form"
	if p.In == openapi3.ParameterInPath {
		key = "path"
	} else if p.In == openapi3.ParameterInHeader {
		key = "header"
	}
	_, options, _ := tagOf(m, key)
	hasDefault := slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "default=") })
	p.Required = p.In == openapi3.ParameterInPath || !(hasDefault || slices.Contains(options, "optional"))
	if hasDefault != (s.Default != nil) {
		return fmt.Errorf("the .api's default and goctl's disagree")
	}
	s.Format = typed.Format

	o, has := parameters[p.Name]
	if has {
		g.used["param:"+p.Name] = true
	}
	// The description: the field's comment in the .api, else the overlay's.
	switch d := memberDoc(m); {
	case d != "":
		if o.description != "" {
			g.warnf("parameter %s: the .api's comment replaces the overlay's description; delete it from overlay.go", p.Name)
		}
		p.Description = d
	case o.description != "":
		p.Description = o.description
	default:
		return fmt.Errorf("no description: comment the field in project.api or add it to the overlay (overlay.go, parameters)")
	}
	// Bounds and patterns: goctl's (from a range= or options= tag) if any,
	// else the overlay's; the two must not disagree.
	for _, b := range []struct {
		what         string
		goctl, extra **float64
	}{{"minimum", &s.Min, &o.min}, {"maximum", &s.Max, &o.max}} {
		switch {
		case *b.extra == nil:
		case *b.goctl == nil:
			*b.goctl = *b.extra
		case **b.goctl != **b.extra:
			return fmt.Errorf("the .api's %s %v and the overlay's %v disagree", b.what, **b.goctl, **b.extra)
		default:
			g.warnf("parameter %s: the .api gives the %s; delete it from overlay.go", p.Name, b.what)
		}
	}
	if typed.Min != nil && (s.Min == nil || *s.Min < *typed.Min) {
		s.Min = typed.Min
	}
	if o.pattern != "" {
		if s.Pattern != "" && s.Pattern != o.pattern {
			return fmt.Errorf("goctl's pattern and the overlay's disagree")
		}
		s.Pattern = o.pattern
	}
	if o.format != "" {
		if s.Format != "" {
			return fmt.Errorf("the overlay gives format %s to a %s", o.format, prim.RawName)
		}
		s.Format = o.format
	}
	if s.Default != nil {
		if f, ok := s.Default.(float64); ok && f == math.Trunc(f) && s.Type.Is("integer") {
			s.Default = int64(f)
		}
	}
	return nil
}

// shape is a schema's structure, for comparing goctl's with the .api's:
// types, properties, required fields and items, nothing descriptive.
func (g *gen) shape(r *openapi3.SchemaRef) string {
	return g.shapeOf(r, map[string]bool{})
}

func (g *gen) shapeOf(r *openapi3.SchemaRef, visiting map[string]bool) string {
	if r == nil {
		return "none"
	}
	if name, ok := strings.CutPrefix(r.Ref, schemaPrefix); ok {
		if visiting[name] {
			return name
		}
		visiting[name] = true
		defer delete(visiting, name)
		r = g.doc.Components.Schemas[name]
		if r == nil {
			return "missing " + name
		}
	}
	s := r.Value
	if s == nil {
		return "unresolved " + r.Ref
	}
	if len(s.AllOf) == 1 && s.Type == nil {
		return g.shapeOf(s.AllOf[0], visiting)
	}
	var b strings.Builder
	if s.Type != nil {
		b.WriteString(strings.Join(s.Type.Slice(), "|"))
	}
	if s.Items != nil {
		b.WriteString("<" + g.shapeOf(s.Items, visiting) + ">")
	}
	if len(s.Properties) > 0 {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		slices.Sort(names)
		b.WriteString("{")
		for i, n := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n + ": " + g.shapeOf(s.Properties[n], visiting))
		}
		required := slices.Clone(s.Required)
		slices.Sort(required)
		b.WriteString("; required " + strings.Join(required, " ") + "}")
	}
	return b.String()
}

// warnStale names overlay entries the contract did not use.
func (g *gen) warnStale() {
	var stale []string
	for name := range parameters {
		if !g.used["param:"+name] {
			stale = append(stale, "parameter "+name)
		}
	}
	for _, name := range slices.Concat(dateTimeFields, dateFields) {
		if !g.used["field:"+name] {
			stale = append(stale, "date field "+name)
		}
	}
	slices.Sort(stale)
	for _, s := range stale {
		g.warnf("overlay.go: %s is in no route of the .api; delete it", s)
	}
}
