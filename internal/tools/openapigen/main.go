// Command openapigen writes the service's OpenAPI 3 document from its goctl
// contract. It is a development tool (make gen), never shipped.
//
//	go tool goctl api swagger --api project.api --dir $tmp
//	go run ./internal/tools/openapigen -api project.api -swagger $tmp/project.json -out internal/openapi/openapi.json
//
// goctl writes Swagger 2.0; kin-openapi's openapi2conv turns it into OpenAPI
// 3.0.3; the tool then completes what goctl cannot express, from project.api
// (parsed with goctl's own parser: type comments, pointer fields, Go integer
// sizes, middlewares) and, where the .api has no way to say it, from the
// overlay (overlay.go). The output is deterministic: sorted keys, two-space
// indent, a trailing newline, no timestamp, so regenerating leaves the tree
// unchanged.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	apiPath := flag.String("api", "project.api", "the goctl API contract")
	swaggerPath := flag.String("swagger", "", "goctl's Swagger 2.0 output for it (goctl api swagger)")
	outPath := flag.String("out", "internal/openapi/openapi.json", "where to write the OpenAPI 3 document")
	flag.Parse()
	if *swaggerPath == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*apiPath, *swaggerPath, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(apiPath, swaggerPath, outPath string) error {
	swagger, err := os.ReadFile(swaggerPath)
	if err != nil {
		return err
	}
	doc, warnings, err := generate(apiPath, swagger)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "openapigen: warning:", w)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, doc, 0o644)
}
