package servicetest

import (
	"strings"
	"testing"
)

// TestDecodeErrorBody_OnlyExactlyOneCodeAndMessage: a 403 or 404 that also
// carried a record, a field beyond the two, an empty message or leaked
// driver text is refused; {code, message} alone is read back.
func TestDecodeErrorBody_OnlyExactlyOneCodeAndMessage(t *testing.T) {
	const valid = `{"code":"not_found","message":"project 7 does not exist"}`
	if code, msg, err := DecodeErrorBody(valid + "\n"); err != nil || code != "not_found" || msg != "project 7 does not exist" {
		t.Fatalf("DecodeErrorBody(valid) = %q, %q, %v", code, msg, err)
	}
	for name, body := range map[string]string{
		"aRecordAfterIt":     valid + `{"id":7,"title":"Trial"}`,
		"aRecordAfterASpace": valid + "\n" + `{"id":7}`,
		"textAfterIt":        valid + "x",
		"aFieldMore":         `{"code":"not_found","message":"m","id":7}`,
		"noMessage":          `{"code":"not_found","message":""}`,
		"notJSON":            `not found`,
		"driverText":         `{"code":"internal","message":"Error 1146: Table 'project' doesn't exist"}`,
	} {
		if _, _, err := DecodeErrorBody(body); err == nil {
			t.Errorf("%s: DecodeErrorBody(%q) accepted it", name, body)
		} else if !strings.Contains(err.Error(), "error body") {
			t.Errorf("%s: the refusal %q does not say what it refused", name, err)
		}
	}
}
