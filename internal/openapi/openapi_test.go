package openapi

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// validate loads data as kin-openapi does for the tests' validator and runs
// the OpenAPI 3 checks on it.
func validate(data []byte) error {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return err
	}
	return doc.Validate(context.Background())
}

func TestDocumentIsValidOpenAPI(t *testing.T) {
	if err := validate(Document); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	if !bytes.HasSuffix(Document, []byte("}\n")) {
		t.Error("openapi.json should end in a newline, as the generator writes it")
	}
}

// The check above would catch a broken document: each corruption of a copy
// of Document must fail it.
func TestBrokenDocumentIsRefused(t *testing.T) {
	for _, c := range []struct{ name, old, new string }{
		{"dangling reference", `"#/components/schemas/Error"`, `"#/components/schemas/NoSuchSchema"`},
		{"unknown type", `"type": "integer"`, `"type": "int"`},
		{"default outside the bounds", `"default": 10,`, `"default": 1000,`},
		{"path parameter not in the path", `"name": "id",`, `"name": "ident",`},
		{"not JSON", `"openapi": "3.0.3"`, `"openapi": 3.0.3,`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(Document, []byte(c.old)) {
				t.Fatalf("the document has no %s to corrupt", c.old)
			}
			broken := bytes.Replace(Document, []byte(c.old), []byte(c.new), 1)
			err := validate(broken)
			if err == nil {
				t.Fatalf("replacing %s with %s still validates", c.old, c.new)
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestForIssuer(t *testing.T) {
	before := bytes.Clone(Document)
	if !bytes.Contains(Document, []byte(issuerPlaceholder+"/.well-known/openid-configuration")) {
		t.Fatalf("the document does not name the issuer placeholder %s", issuerPlaceholder)
	}
	doc := ForIssuer("https://login.example.org/realms/trials/")
	if err := validate(doc); err != nil {
		t.Fatal(err)
	}
	if want := `"openIdConnectUrl": "https://login.example.org/realms/trials/.well-known/openid-configuration"`; !strings.Contains(string(doc), want) {
		t.Errorf("ForIssuer's document lacks %s", want)
	}
	if bytes.Contains(doc, []byte(issuerPlaceholder)) {
		t.Error("ForIssuer left the placeholder in")
	}
	if !bytes.Equal(Document, before) {
		t.Error("ForIssuer changed Document")
	}
	if got := ForIssuer(""); !bytes.Equal(got, Document) {
		t.Error("ForIssuer(\"\") is not Document")
	}
}
