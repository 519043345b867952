package middleware

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// conditional gives a held 200 its cache validators and answers a matching
// If-None-Match with 304 (RFC 9110 §13.1.2, §15.4.5); it returns the status
// to send. The ETag is strong, a digest of the exact bytes of the
// representation, so ?reports=3 and ?reports=10 differ. Records are
// confidential and per caller: shared caches must not store them (private)
// and a private cache must revalidate each use (no-cache); Vary names the
// credentials. Other answers are not to be stored at all.
func conditional(h *heldAnswer, r *http.Request) int {
	status := h.statusOrOK()
	if status != http.StatusOK {
		h.header["Cache-Control"] = noStore
		return status
	}
	sum := sha256.Sum256(h.body.Bytes())
	var tagBuf [2 + 24]byte
	tagBuf[0] = '"'
	base64.RawURLEncoding.Encode(tagBuf[1:25], sum[:18])
	tagBuf[25] = '"'
	tag := string(tagBuf[:])
	h.header["Etag"] = []string{tag}
	h.header["Cache-Control"] = privateNoCache
	h.header["Vary"] = varyAuthorization
	if matchesNoneMatch(r.Header.Values("If-None-Match"), tag) {
		return http.StatusNotModified
	}
	return status
}

// Header values shared by every answer (headers are never modified in place
// once set).
var (
	noStore           = []string{"no-store"}
	privateNoCache    = []string{"private, no-cache"}
	varyAuthorization = []string{"Authorization"}
)

// matchesNoneMatch: If-None-Match uses the weak comparison, and "*" matches
// any current representation.
func matchesNoneMatch(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == tag {
				return true
			}
		}
	}
	return false
}
