package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"
)

// deadline gives every request the configured Timeout and answers at it
// (504 timeout, or 499 when the client left) if the handler has not started
// its answer by then — what go-zero's TimeoutHandler does, which the
// service turns off for two reasons:
//
//   - it buffers every answer in full, a copy the route middlewares already
//     hold (Audit holds the whole answer until its row is committed): here
//     the handler's answer goes straight through;
//   - it skips the deadline for any request with "Accept: text/event-stream",
//     so a client could lift the deadline — and with it the server-side
//     statement limit — from its own requests.
//
// The handler runs in its own goroutine, as in go-zero, so the answer comes
// at the deadline even if the handler is slow to notice it; a panic there is
// raised again here, where go-zero's recover middleware turns it into a 500.
func deadline(timeout time.Duration) rest.Middleware {
	return func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			dw := &deadlineWriter{w: w, header: make(http.Header, 8)}
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				next(dw, r.WithContext(ctx))
			}()
			select {
			case p := <-done:
				if p != nil {
					panic(p)
				}
			case <-ctx.Done():
				if dw.expire() {
					httpx.ErrorCtx(r.Context(), w, ctx.Err())
				}
			}
		}
	}
}

// deadlineWriter passes the handler's answer through until the deadline
// answers instead; whichever starts first owns the response. Headers are
// collected apart and copied when the handler's answer starts, so the
// handler never touches the real header map concurrently.
type deadlineWriter struct {
	w      http.ResponseWriter
	header http.Header

	mu      sync.Mutex
	started bool // the handler's answer has begun
	expired bool // the deadline answered
}

func (d *deadlineWriter) Header() http.Header { return d.header }

func (d *deadlineWriter) WriteHeader(status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.start(status)
}

// start begins the handler's answer (with d.mu held); false once expired.
func (d *deadlineWriter) start(status int) bool {
	if d.expired {
		return false
	}
	if !d.started {
		d.started = true
		dst := d.w.Header()
		for k, v := range d.header {
			dst[k] = v
		}
		d.w.WriteHeader(status)
	}
	return true
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.start(http.StatusOK) {
		return 0, http.ErrHandlerTimeout
	}
	return d.w.Write(p)
}

// Flush lets streaming writers through.
func (d *deadlineWriter) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started && !d.expired {
		if f, ok := d.w.(http.Flusher); ok {
			f.Flush()
		}
	}
}

// expire makes the deadline the owner of the response, unless the
// handler's answer has begun (then it is let through whole).
func (d *deadlineWriter) expire() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return false
	}
	d.expired = true
	return true
}
