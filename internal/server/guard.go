package server

import (
	"net/http"
	"time"

	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/errs"
)

// guardRouter is the outermost handler of the server (go-zero serves the
// router it is given, with every middleware chained inside the routes). It
// guards the error contract for responses go-zero's own middlewares write
// without a body — breaker, load shedding, max connections (503) and panic
// recovery (500) — and adds Retry-After to every 503.
type guardRouter struct {
	httpx.Router
}

func (g guardRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	gw := &guardWriter{ResponseWriter: w}
	g.Router.ServeHTTP(gw, r)
	gw.finish()
	accessLog(r, gw.status(), w.Header(), time.Since(start))
}

// guardWriter holds back an error status until it knows whether a body
// follows; if none does, it writes the contract's JSON body for that status.
type guardWriter struct {
	http.ResponseWriter
	heldStatus  int
	wroteHeader bool
	sent        int // the status sent
}

// status is the status the client got (200 if nothing was written).
func (w *guardWriter) status() int {
	if w.sent == 0 {
		return http.StatusOK
	}
	return w.sent
}

func (w *guardWriter) WriteHeader(status int) {
	if w.wroteHeader || w.heldStatus != 0 {
		return
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", errs.RetryAfterSeconds)
	}
	if status >= http.StatusBadRequest {
		w.heldStatus = status
		return
	}
	w.wroteHeader = true
	w.sent = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *guardWriter) Write(p []byte) (int, error) {
	w.flushHeader()
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming writers through.
func (w *guardWriter) Flush() {
	w.flushHeader()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *guardWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *guardWriter) flushHeader() {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if w.heldStatus != 0 {
		w.sent = w.heldStatus
		w.ResponseWriter.WriteHeader(w.heldStatus)
	}
}

// finish writes the JSON body of a held error status nobody wrote a body for.
func (w *guardWriter) finish() {
	if w.wroteHeader || w.heldStatus == 0 {
		return
	}
	code := errs.CodeOf(w.heldStatus)
	w.wroteHeader = true
	w.sent = w.heldStatus
	httpx.WriteJson(w.ResponseWriter, w.heldStatus, errs.Body{Code: code, Message: errs.New(code, "", nil).Message})
}
