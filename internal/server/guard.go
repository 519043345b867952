package server

import (
	"net/http"
	"path"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/errs"
)

// guardRouter is the outermost handler of the server (go-zero serves the
// router it is given, with every middleware chained inside the routes). For
// every request, routed or not, it:
//
//   - begins the request's audit record, whose id the service generates
//     (X-Request-Id, the request_id of the log lines and the audit rows;
//     a client's traceparent cannot make its rows join another's logs), and
//     names in it the route template the request matched;
//   - refuses a request whose header is larger than MaxHeaderBytes (431),
//     and one whose path is not in its one canonical form (404);
//   - guards the error contract for answers go-zero's own middlewares write
//     without a body — breaker, load shedding, max connections (503) and
//     panic recovery (500) — adds Retry-After to every 503, and marks every
//     error answer not to be stored (Cache-Control: no-store);
//   - writes the access log line.
type guardRouter struct {
	httpx.Router
	maxHeaderBytes int
}

// Handle registers a route whose requests name its template in their
// audit record.
func (g guardRouter) Handle(method, path string, h http.Handler) error {
	return g.Router.Handle(method, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := audit.From(r.Context()); rec != nil {
			rec.SetRoute(path)
		}
		h.ServeHTTP(w, r)
	}))
}

func (g guardRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, rec := audit.Begin(r)
	w.Header()["X-Request-Id"] = []string{rec.ID}
	r = r.WithContext(logx.ContextWithFields(ctx, logx.Field("request_id", rec.ID)))
	gw := &guardWriter{ResponseWriter: w}
	switch n := headerBytes(r); {
	case g.maxHeaderBytes > 0 && n > g.maxHeaderBytes:
		metricUnaudited.Inc("header_too_large")
		httpx.ErrorCtx(r.Context(), gw, errs.Newf(errs.HeaderTooLarge,
			"the request's header is %d bytes; at most %d are accepted", n, g.maxHeaderBytes))
	case r.URL.Path != path.Clean(r.URL.Path) && r.URL.Path != "/":
		// One name per resource: /project/1/, /project//1 and
		// /project/./1 are not another name of /project/1.
		httpx.ErrorCtx(r.Context(), gw, errs.Newf(errs.NotFound,
			"no such route: write the path without empty, . or .. segments and without a trailing /"))
	default:
		g.Router.ServeHTTP(gw, r)
	}
	if gw.finish() {
		metricUnaudited.Inc(string(errs.CodeOf(gw.status())))
	}
	accessLog(r, gw.status(), w.Header(), time.Since(start))
}

// headerBytes is about the size of the request's header as it came on the
// wire: the request line and every header field (what http.Server's
// MaxHeaderBytes counts, give or take its 4 KiB of slack).
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	return n + 2
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
	if status >= http.StatusBadRequest {
		h := w.Header()
		h["Cache-Control"] = noStore
		if status == http.StatusServiceUnavailable {
			h["Retry-After"] = retryAfter
		}
		w.heldStatus = status
		return
	}
	w.wroteHeader = true
	w.sent = status
	w.ResponseWriter.WriteHeader(status)
}

// Header values shared by every answer (never modified in place once set).
var (
	noStore    = []string{"no-store"}
	retryAfter = []string{errs.RetryAfterSeconds}
)

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

// finish writes the JSON body of a held error status nobody wrote a body
// for — one of go-zero's own refusals, which come before authentication
// and leave no audit row — and reports whether it did.
func (w *guardWriter) finish() bool {
	if w.wroteHeader || w.heldStatus == 0 {
		return false
	}
	code := errs.CodeOf(w.heldStatus)
	w.wroteHeader = true
	w.sent = w.heldStatus
	httpx.WriteJson(w.ResponseWriter, w.heldStatus, errs.Body{Code: code, Message: errs.New(code, "", nil).Message})
	return true
}
