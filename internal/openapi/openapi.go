// Package openapi holds the service's OpenAPI 3 document, served at GET
// /openapi.json. openapi.json is generated from project.api by make gen
// (goctl api swagger, then internal/tools/openapigen): never edit it by hand.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"strings"
)

// Document is the OpenAPI 3.0.3 document of the service's API, as JSON.
//
//go:embed openapi.json
var Document []byte

// issuerPlaceholder stands for the identity provider in Document: the
// provider is configuration (Auth.Issuer), not contract (see
// internal/tools/openapigen, overlay.go).
const issuerPlaceholder = "https://issuer.invalid"

// ForIssuer is Document naming issuer (the service's Auth.Issuer) as the
// identity provider: its OpenID Connect discovery document replaces the
// placeholder. With an empty issuer it is Document itself.
func ForIssuer(issuer string) []byte {
	issuer = strings.TrimSuffix(issuer, "/")
	if issuer == "" {
		return Document
	}
	quoted, err := json.Marshal(issuer)
	if err != nil { // a string always marshals
		return Document
	}
	return bytes.ReplaceAll(Document, []byte(issuerPlaceholder), quoted[1:len(quoted)-1])
}
