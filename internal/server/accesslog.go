package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"
)

// slowRequest: requests slower than this get a second line at level slow
// (go-zero's access log threshold).
const slowRequest = 500 * time.Millisecond

// accessLog writes the one access line of a request, in go-zero's format
// ("[HTTP] 200 - GET /project/1 - <client> - <user agent>", with duration,
// trace and span), from the outermost handler so that every answer is
// logged, go-zero's own 503s included. It replaces go-zero's LogHandler
// (Middlewares.Log is turned off), which dumps the whole request —
// Authorization header included — into the log of every 5xx: a bearer
// token must never be logged. 5xx lines are at level error; the request's
// headers and body are never written.
func accessLog(r *http.Request, status int, header http.Header, took time.Duration) {
	var b strings.Builder
	b.Grow(64 + len(r.RequestURI) + len(r.UserAgent()))
	b.WriteString("[HTTP] ")
	b.WriteString(strconv.Itoa(status))
	b.WriteString(" - ")
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.RequestURI)
	b.WriteString(" - ")
	b.WriteString(httpx.GetRemoteAddr(r))
	b.WriteString(" - ")
	b.WriteString(r.UserAgent())
	line := b.String()

	fields := make([]logx.LogField, 0, 2)
	// go-zero's tracing middleware propagates the request's trace in the
	// response (traceparent: version-trace-span-flags).
	if tp := header.Get("Traceparent"); len(tp) == 55 {
		fields = append(fields, logx.Field("span", tp[36:52]), logx.Field("trace", tp[3:35]))
	}
	logger := logx.WithDuration(took)
	if status >= http.StatusInternalServerError {
		logger.Errorw(line, fields...)
	} else {
		logger.Infow(line, fields...)
	}
	if took > slowRequest {
		logger.Sloww(line+" - slowcall", fields...)
	}
}
