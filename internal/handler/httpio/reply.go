package httpio

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/page"
)

// maxPooledBody: larger answer buffers are not kept for reuse.
const maxPooledBody = 1 << 20

var contentTypeJSON = []string{"application/json; charset=utf-8"}

// encoder is a JSON encoder and the buffer it writes to, kept together and
// reused: encoding/json then allocates nothing per answer.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // as go-zero's httpx writes JSON
	return e
}}

// OkJSON answers 200 with v as JSON — the bytes httpx.OkJsonCtx writes (no
// HTML escaping, no trailing newline) — with its cache validators and, for
// a page of a list, the Link to the next one (package page), or 304
// when the request's If-None-Match names the representation it would send
// (RFC 9110 §13.1.2, §15.4.5). The ETag is strong, a digest of the exact
// bytes, so ?reports=3 and ?reports=10 differ. Answers are confidential and
// per caller: shared caches must not store them (private) and a private
// cache must revalidate each use (no-cache); Vary names the credentials.
func OkJSON(w http.ResponseWriter, r *http.Request, v any) {
	e := encoders.Get().(*encoder)
	defer func() {
		if e.buf.Cap() <= maxPooledBody {
			e.buf.Reset()
			encoders.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		httpx.ErrorCtx(r.Context(), w, errs.New(errs.Internal, "", err))
		return
	}
	body := bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))
	page.SetLink(w, r, v)
	h := w.Header()
	tag := etagOf(body)
	h["Etag"] = []string{tag}
	h["Cache-Control"] = privateNoCache
	h["Vary"] = varyAuthorization
	if matchesNoneMatch(r.Header.Values("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
	} else {
		h["Content-Type"] = contentTypeJSON
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// Header values shared by every answer (never modified in place once set).
var (
	privateNoCache    = []string{"private, no-cache"}
	varyAuthorization = []string{"Authorization"}
)

// etagOf is the strong entity tag of body: 144 bits of its SHA-256.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	var tag [2 + 24]byte
	tag[0] = '"'
	base64.RawURLEncoding.Encode(tag[1:25], sum[:18])
	tag[25] = '"'
	return string(tag[:])
}

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
