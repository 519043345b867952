package middleware

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
)

// heldAnswer is a ResponseWriter that keeps the handler's answer (status,
// headers, body) until the middleware decides to send it.
type heldAnswer struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func holdAnswer() *heldAnswer {
	b := bodies.Get().(*bytes.Buffer)
	b.Reset()
	return &heldAnswer{header: make(http.Header, 4), body: b}
}

func (h *heldAnswer) Header() http.Header { return h.header }

func (h *heldAnswer) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldAnswer) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(p)
}

// statusOrOK is the status the handler answered (200 if it only wrote).
func (h *heldAnswer) statusOrOK() int {
	if h.status == 0 {
		return http.StatusOK
	}
	return h.status
}

// sendTo writes the held answer to w with status; a 304 carries no body.
func (h *heldAnswer) sendTo(w http.ResponseWriter, status int) {
	dst := w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	if status == http.StatusNotModified {
		dst.Del("Content-Type")
		dst.Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	dst.Set("Content-Length", strconv.Itoa(h.body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(h.body.Bytes())
}

// release returns the body buffer for reuse (large ones are dropped).
func (h *heldAnswer) release() {
	if h.body.Cap() <= 1<<20 {
		bodies.Put(h.body)
	}
	h.body = nil
}
