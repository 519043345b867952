package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// fixture is the real contract (make gen-check keeps
// internal/openapi/openapi.json in step with it); the tests also run the
// tool on variants of it.
var fixture = testenv.Path("project.api")

// goctlSwagger runs goctl (the module's tool) on the contract at apiPath
// and returns its Swagger 2.0.
func goctlSwagger(t *testing.T, apiPath string) []byte {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "tool", "goctl", "api", "swagger", "--api", apiPath, "--dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goctl api swagger: %v\n%s", err, out)
	}
	name := strings.TrimSuffix(filepath.Base(apiPath), ".api") + ".json"
	swagger, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return swagger
}

// variant writes the fixture with edit applied (old must occur) and returns its path.
func variant(t *testing.T, old, new string) string {
	t.Helper()
	src, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(old)) {
		t.Fatalf("the fixture has no %q", old)
	}
	path := filepath.Join(t.TempDir(), "project.api")
	if err := os.WriteFile(path, bytes.Replace(src, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc
}

// rateLimited is the fixture with every group behind the RateLimit
// middleware too (or as it is, if it is already).
func rateLimited(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(src, []byte("Audit,Auth,RateLimit")) {
		return fixture
	}
	path := filepath.Join(t.TempDir(), "project.api")
	if err := os.WriteFile(path, bytes.ReplaceAll(src, []byte("middleware: Audit,Auth\n"), []byte("middleware: Audit,Auth,RateLimit\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, api := range []string{fixture, rateLimited(t)} {
		limited := bytes.Contains(must(os.ReadFile(api)), []byte("RateLimit"))
		t.Run(map[bool]string{false: "asIs", true: "rateLimited"}[limited], func(t *testing.T) {
			t.Parallel()
			testGenerate(t, api, limited)
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func testGenerate(t *testing.T, fixture string, limited bool) {
	swagger := goctlSwagger(t, fixture)
	out, warnings, err := generate(fixture, swagger)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}

	t.Run("deterministic", func(t *testing.T) {
		again, _, err := generate(fixture, goctlSwagger(t, fixture)) // goctl's x-date has moved on
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, again) {
			t.Error("two runs differ")
		}
		if !bytes.HasSuffix(out, []byte("}\n")) || !bytes.HasPrefix(out, []byte("{\n  \"components\": {\n    \"headers\"")) {
			t.Error("not two-space indented JSON with sorted keys and a trailing newline")
		}
		for _, s := range []string{`\u003c`, `\u0026`, `x-date`, `x-goctl`, `allowEmptyValue`} {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("the document has %s", s)
			}
		}
	})

	doc := load(t, out)
	op := func(method, path string) *openapi3.Operation {
		t.Helper()
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("no %s %s", method, path)
		}
		return item.GetOperation(method)
	}
	param := func(o *openapi3.Operation, name string) *openapi3.Parameter {
		t.Helper()
		for _, p := range o.Parameters {
			if p.Value.Name == name {
				return p.Value
			}
		}
		t.Fatalf("%s has no parameter %s", o.OperationID, name)
		return nil
	}

	t.Run("info", func(t *testing.T) {
		if doc.OpenAPI != "3.0.3" || doc.Info.Title != "clinical project data service" || doc.Info.Version != "v1" ||
			!strings.HasPrefix(doc.Info.Description, "Clinical trial projects") {
			t.Errorf("openapi %s, info %+v", doc.OpenAPI, doc.Info)
		}
	})

	secured := []string{"/project/{id}", "/project/{id}/institutions", "/project/{id}/reports", "/projects"}
	t.Run("operations", func(t *testing.T) {
		var got []string
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				got = append(got, method+" "+path)
			}
		}
		slices.Sort(got)
		want := []string{"GET /healthz", "GET /openapi.json"}
		for _, p := range secured {
			want = append(want, "GET "+p, "HEAD "+p)
		}
		want = append(want, "GET /readyz")
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("operations\n got %q\nwant %q", got, want)
		}
	})

	t.Run("parameters", func(t *testing.T) {
		details := op("GET", "/project/{id}")
		id := param(details, "id")
		if !id.Required || *id.Schema.Value.Min != 1 || id.Schema.Value.Format != "int64" || id.Description == "" {
			t.Errorf("id: %+v %+v", id, id.Schema.Value)
		}
		reports := param(details, "reports").Schema.Value
		if param(details, "reports").Required || reports.Default != 10.0 || *reports.Min != 1 || *reports.Max != 100 {
			t.Errorf("reports: %+v", reports)
		}
		institutions := param(details, "institutions")
		if institutions.Required || *institutions.Schema.Value.Min != 1 || institutions.Schema.Value.Max != nil ||
			institutions.Schema.Value.Default != nil || !strings.Contains(institutions.Description, "configuration") {
			t.Errorf("institutions: %+v %+v", institutions, institutions.Schema.Value)
		}
		list := op("GET", "/projects")
		if s := param(list, "updated_since").Schema.Value; s.Format != "date-time" {
			t.Errorf("updated_since: %+v", s)
		}
		if s := param(list, "institution").Schema.Value; s.Pattern == "" || !s.Type.Is("string") {
			t.Errorf("institution: %+v", s)
		}
		for _, p := range list.Parameters {
			if p.Value.Required || p.Value.Description == "" || p.Value.AllowEmptyValue || p.Value.Schema.Value.AllowEmptyValue {
				t.Errorf("%s: %+v", p.Value.Name, p.Value)
			}
		}
		if limit := param(list, "limit").Schema.Value; limit.Default != 20.0 || *limit.Max != 100 {
			t.Errorf("limit: %+v", limit)
		}
		if !strings.Contains(list.Description, "400") {
			t.Error("the description does not say unknown query parameters are refused")
		}
		if head := op("HEAD", "/projects"); len(head.Parameters) != len(list.Parameters) {
			t.Error("HEAD /projects has other parameters than its GET")
		}
	})

	t.Run("schemas", func(t *testing.T) {
		schemas := doc.Components.Schemas
		project := schemas["Project"].Value
		if !strings.HasPrefix(project.Description, "Project is the trial itself") {
			t.Errorf("Project's description: %q", project.Description)
		}
		for name, want := range map[string]struct {
			format   string
			nullable bool
		}{"start_date": {"date", true}, "created_at": {"date-time", false}, "updated_at": {"date-time", false}} {
			if s := project.Properties[name].Value; s.Format != want.format || s.Nullable != want.nullable {
				t.Errorf("Project.%s: %+v", name, s)
			}
		}
		report := schemas["ProjectReport"].Value
		if s := report.Properties["summary"].Value; !s.Nullable || s.Format != "" {
			t.Errorf("ProjectReport.summary: %+v", s)
		}
		if s := report.Properties["period_end"].Value; !s.Nullable || s.Format != "date" {
			t.Errorf("ProjectReport.period_end: %+v", s)
		}
		details := schemas["ProjectDetailsResp"].Value
		for _, name := range []string{"institutions_next", "reports_next"} {
			if s := details.Properties[name].Value; !s.Nullable || !s.Type.Is("string") {
				t.Errorf("%s: %+v", name, s)
			}
		}
		if s := details.Properties["institutions"]; !s.Value.Type.Is("array") || s.Value.Items.Ref != "#/components/schemas/ProjectInstitution" {
			t.Errorf("institutions: %+v", s.Value)
		}
		if !slices.Equal(details.Required, []string{"project", "institutions", "institutions_next", "reports", "reports_next"}) {
			t.Errorf("required: %q", details.Required)
		}
		e := schemas["Error"].Value
		var codes []string
		for _, c := range e.Properties["code"].Value.Enum {
			codes = append(codes, c.(string))
		}
		if len(e.Enum) != 0 || !slices.Equal(codes, errs.Codes()) || !slices.Equal(e.Required, []string{"code", "message"}) ||
			e.AdditionalProperties.Has == nil || *e.AdditionalProperties.Has {
			t.Errorf("Error: %+v", e)
		}
	})

	t.Run("responses", func(t *testing.T) {
		statuses := []string{"200", "304", "400", "401", "403", "404", "405", "431", "500", "503", "504"}
		if limited {
			statuses = slices.Insert(statuses, 7, "429")
		}
		for _, path := range secured {
			for _, method := range []string{"GET", "HEAD"} {
				o := op(method, path)
				if got := slices.Sorted(func(yield func(string) bool) {
					for k := range o.Responses.Map() {
						if !yield(k) {
							return
						}
					}
				}); !slices.Equal(got, statuses) {
					t.Errorf("%s %s: statuses %q", method, path, got)
				}
				if o.Security != nil {
					t.Errorf("%s %s: its own security (want the document's)", method, path)
				}
				for status, r := range o.Responses.Map() {
					hasBody := len(r.Value.Content) > 0
					if wantBody := method == "GET" && status != "304"; hasBody != wantBody {
						t.Errorf("%s %s %s: body %v", method, path, status, hasBody)
					}
					h := r.Value.Headers
					if h["X-Request-Id"] == nil || (h["RateLimit"] != nil) != limited || (h["RateLimit-Policy"] != nil) != limited {
						t.Errorf("%s %s %s: headers %v", method, path, status, slices.Sorted(mapKeys(h)))
					}
					if got, want := h["ETag"] != nil, status == "200" || status == "304"; got != want {
						t.Errorf("%s %s %s: ETag %v", method, path, status, got)
					}
					if got, want := h["Link"] != nil, status == "200" && path != "/project/{id}"; got != want {
						t.Errorf("%s %s %s: Link %v", method, path, status, got)
					}
					if got, want := h["WWW-Authenticate"] != nil, status == "401" || status == "403"; got != want {
						t.Errorf("%s %s %s: WWW-Authenticate %v", method, path, status, got)
					}
					if got, want := h["Retry-After"] != nil, status == "429" || status == "503"; got != want {
						t.Errorf("%s %s %s: Retry-After %v", method, path, status, got)
					}
				}
			}
		}
		for name, h := range doc.Components.Headers {
			if h.Value.Required != (name == "X-Request-Id") {
				t.Errorf("header %s: required %v", name, h.Value.Required)
			}
		}
		for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
			o := op("GET", path)
			if o.Security == nil || len(*o.Security) != 0 {
				t.Errorf("%s: security %v, want []", path, o.Security)
			}
			if o.Responses.Status(200) == nil || o.Responses.Status(503) == nil {
				t.Errorf("%s: responses %v", path, slices.Sorted(mapKeys(o.Responses.Map())))
			}
		}
	})

	t.Run("security", func(t *testing.T) {
		if len(doc.Security) != 2 || !slices.Equal(doc.Security[0][oidcScheme], []string{scopeReadAll}) ||
			!slices.Equal(doc.Security[1][oidcScheme], []string{scopeRead}) || doc.Security[0][bearerScheme] == nil {
			t.Errorf("security %v", doc.Security)
		}
		s := doc.Components.SecuritySchemes
		if b := s[bearerScheme].Value; b.Type != "http" || b.Scheme != "bearer" || b.BearerFormat != "JWT" {
			t.Errorf("bearer scheme %+v", b)
		}
		if o := s[oidcScheme].Value; o.Type != "openIdConnect" || !strings.HasPrefix(o.OpenIdConnectUrl, issuerPlaceholder+"/") {
			t.Errorf("oidc scheme %+v", o)
		}
	})
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A parameter the contract gains needs a description: from a comment on
// its field in the .api (preferred), else from the overlay.
func TestParameterDescriptions(t *testing.T) {
	t.Parallel()
	const old = "\t\tCursor       string `form:\"cursor,optional\"`\n\t}\n\t// ProjectListResp"
	undescribed := variant(t, old, "\t\tCursor       string `form:\"cursor,optional\"`\n\t\tColour string `form:\"colour,optional\"`\n\t}\n\t// ProjectListResp")
	if _, _, err := generate(undescribed, goctlSwagger(t, undescribed)); err == nil || !strings.Contains(err.Error(), "colour: no description") {
		t.Errorf("an undescribed parameter: %v", err)
	}

	commented := variant(t, old, "\t\tCursor       string `form:\"cursor,optional\"`\n\t\t// Only projects of this colour.\n\t\tColour string `form:\"colour,optional\"`\n\t}\n\t// ProjectListResp")
	out, warnings, err := generate(commented, goctlSwagger(t, commented))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	doc := load(t, out)
	var found bool
	for _, p := range doc.Paths.Value("/projects").Get.Parameters {
		if p.Value.Name == "colour" {
			found = p.Value.Description == "Only projects of this colour."
		}
	}
	if !found {
		t.Error("the field's comment is not the parameter's description")
	}

	// A comment on a field the overlay also describes wins, with a warning.
	both := variant(t, "\t\tLimit  int64  `form:\"limit,default=20\"`", "\t\tLimit  int64  `form:\"limit,default=20\"` // the page size")
	out, warnings, err = generate(both, goctlSwagger(t, both))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "limit") {
		t.Errorf("warnings: %q", warnings)
	}
	if !bytes.Contains(out, []byte(`"description": "the page size"`)) {
		t.Error("the .api's comment did not win")
	}
}

// goctl's schema and the one derived from the .api must agree.
func TestGoctlDisagrees(t *testing.T) {
	t.Parallel()
	swagger := goctlSwagger(t, fixture)
	var doc map[string]any
	if err := json.Unmarshal(swagger, &doc); err != nil {
		t.Fatal(err)
	}
	get := doc["paths"].(map[string]any)["/project/{id}/reports"].(map[string]any)["get"].(map[string]any)
	schema := get["responses"].(map[string]any)["200"].(map[string]any)["schema"].(map[string]any)
	item := schema["properties"].(map[string]any)["reports"].(map[string]any)["items"].(map[string]any)
	delete(item["properties"].(map[string]any), "summary")
	broken, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := generate(fixture, broken); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("a property goctl lacks: %v", err)
	}
}

// A route in the .api that goctl did not write (or the other way round) is an error.
func TestRoutesMustMatch(t *testing.T) {
	t.Parallel()
	fewer := variant(t, "\t@doc \"one page of a project's reports (newest first)\"\n\t@handler ListProjectReports\n\tget /project/:id/reports (ProjectPageReq) returns (ProjectReportsResp)\n", "")
	if _, _, err := generate(fewer, goctlSwagger(t, fixture)); err == nil || !strings.Contains(err.Error(), "does not define") {
		t.Errorf("goctl has a route the .api lacks: %v", err)
	}
	if _, _, err := generate(fixture, goctlSwagger(t, fewer)); err == nil || !strings.Contains(err.Error(), "no GET /project/{id}/reports") {
		t.Errorf("the .api has a route goctl lacks: %v", err)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	swaggerPath := filepath.Join(dir, "project.json")
	if err := os.WriteFile(swaggerPath, goctlSwagger(t, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "openapi.json")
	if err := run(fixture, swaggerPath, out); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	load(t, written)
	if err := run(fixture, filepath.Join(dir, "missing.json"), out); err == nil {
		t.Error("no error for a missing swagger file")
	}
}
