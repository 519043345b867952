package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/errs"
)

// answering is the one place a request's answer is held and sent, and the
// request's deadline. The handler (route middlewares included) runs in its
// own goroutine with the configured Timeout and writes into a held answer.
// Whichever comes first decides the answer:
//
//   - the handler returns: its status goes to the request's audit record
//     (audit.Record.Finish), and the answer leaves once its rows are
//     committed — or, if they cannot be, a 503 with nothing of it;
//   - the deadline passes: the 504 (or 499, the client gone) goes to the
//     audit record the same way, and leaves; whatever the handler writes
//     afterwards is dropped.
//
// So the status in the trail is the status the client received. A panic in
// the handler is audited as a 500 and raised again here, where go-zero's
// recover middleware answers it. A HEAD gets the GET's headers, its
// Content-Length included, and no body.
//
// It replaces go-zero's TimeoutHandler (Middlewares.Timeout is off), which
// copies every answer into a buffer of its own and exempts requests with
// "Accept: text/event-stream" from the deadline (so a client could lift
// the deadline — and the server-side statement limit — from its requests).
func answering(timeout time.Duration) rest.Middleware {
	return func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			rec := audit.From(ctx)
			h := holdAnswer()
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				next(h, r.WithContext(ctx))
			}()
			select {
			case p := <-done:
				if p != nil {
					_ = finish(rec, http.StatusInternalServerError)
					panic(p)
				}
				status := h.statusOrOK()
				if err := finish(rec, status); err != nil {
					unaudited(w, r, err)
				} else {
					h.sendTo(w, r.Method == http.MethodHead)
				}
				h.release()
			case <-ctx.Done():
				h.expire() // the handler's answer, if any comes, is dropped
				err := errs.Classify(ctx.Err())
				if r.Context().Err() != nil {
					err = errs.Classify(r.Context().Err()) // the client went away: 499
				}
				if ferr := finish(rec, err.Status()); ferr != nil {
					unaudited(w, r, ferr)
					return
				}
				httpx.ErrorCtx(r.Context(), w, err)
			}
		}
	}
}

// finish records the status of the answer about to leave (no record: the
// request was not begun by the guard, e.g. a unit test's handler).
func finish(rec *audit.Record, status int) error {
	if rec == nil {
		return nil
	}
	return rec.Finish(status)
}

// unaudited answers 503 in place of an answer whose audit rows could not be
// written: fail closed, nothing of the answer leaves.
func unaudited(w http.ResponseWriter, r *http.Request, err error) {
	httpx.ErrorCtx(r.Context(), w, errs.New(errs.Unavailable,
		"the access could not be written to the audit trail, so nothing was sent; retry later", err))
}

// heldAnswer is the handler's answer (status, headers, body) until it is
// sent. After expire, writes fail and nothing is kept.
type heldAnswer struct {
	header http.Header
	body   *bytes.Buffer

	mu      sync.Mutex
	status  int
	expired bool
}

// maxPooledBody: larger answer buffers are not kept for reuse.
const maxPooledBody = 1 << 20

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func holdAnswer() *heldAnswer {
	b := bodies.Get().(*bytes.Buffer)
	b.Reset()
	return &heldAnswer{header: make(http.Header, 8), body: b}
}

func (h *heldAnswer) Header() http.Header { return h.header }

func (h *heldAnswer) WriteHeader(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldAnswer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expired {
		return 0, http.ErrHandlerTimeout
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(p)
}

// expire ends the handler's answer: the deadline answers instead. The body
// buffer is not reused (the handler may still hold the writer).
func (h *heldAnswer) expire() {
	h.mu.Lock()
	h.expired = true
	h.mu.Unlock()
}

// statusOrOK is the status the handler answered (200 if it only wrote).
func (h *heldAnswer) statusOrOK() int {
	if h.status == 0 {
		return http.StatusOK
	}
	return h.status
}

// sendTo writes the held answer to w; a 304 and a HEAD carry no body (a
// HEAD keeps the GET's Content-Length).
func (h *heldAnswer) sendTo(w http.ResponseWriter, head bool) {
	dst := w.Header()
	for k, v := range h.header {
		dst[k] = v
	}
	status := h.statusOrOK()
	if status == http.StatusNotModified {
		dst.Del("Content-Type")
		dst.Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	dst.Set("Content-Length", strconv.Itoa(h.body.Len()))
	w.WriteHeader(status)
	if !head {
		_, _ = w.Write(h.body.Bytes())
	}
}

// release returns the body buffer for reuse (large ones are dropped).
func (h *heldAnswer) release() {
	if h.body.Cap() <= maxPooledBody {
		bodies.Put(h.body)
	}
	h.body = nil
}
