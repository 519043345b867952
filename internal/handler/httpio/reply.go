package httpio

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// maxPooledBody: larger answer buffers are not kept for reuse.
const maxPooledBody = 1 << 20

var (
	contentTypeJSON = []string{"application/json; charset=utf-8"}
	replies         = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
)

// jsonAppender is an answer that writes its own JSON — the bytes
// encoding/json would write — without reflection (types.ProjectDetailsResp).
type jsonAppender interface{ AppendJSON([]byte) []byte }

// OkJSON answers 200 with v as JSON — the bytes httpx.OkJsonCtx writes (no
// HTML escaping, no trailing newline) — encoded into a pooled buffer and
// written in one piece, instead of a fresh buffer grown per answer.
func OkJSON(ctx context.Context, w http.ResponseWriter, v any) {
	pooled := replies.Get().(*[]byte)
	var body []byte
	if a, ok := v.(jsonAppender); ok {
		body = a.AppendJSON((*pooled)[:0])
	} else {
		buf := bytes.NewBuffer((*pooled)[:0])
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			httpx.ErrorCtx(ctx, w, errs.New(errs.Internal, "", err))
			return
		}
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	if cap(body) <= maxPooledBody {
		*pooled = body[:0]
		replies.Put(pooled)
	}
}
