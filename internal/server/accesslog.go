package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"
)

// slowRequest: requests slower than this get a second line at level slow
// (go-zero's access log threshold).
const slowRequest = 500 * time.Millisecond

// maxLoggedField bounds the URI and the User-Agent in an access line: a
// caller — authenticated or not — cannot make one request write more than
// a few hundred bytes of log. A cut value ends in "...(N bytes)".
const maxLoggedField = 256

// accessLog writes the one access line of a request, in go-zero's format
// ("[HTTP] 200 - GET /project/1 - <client> - <user agent>", with duration,
// trace and span), from the outermost handler so that every answer is
// logged, go-zero's own 503s included. It replaces go-zero's LogHandler
// (Middlewares.Log is turned off), which dumps the whole request —
// Authorization header included — into the log of every 5xx: a bearer
// token must never be logged. 5xx lines are at level error; the request's
// headers and body are never written; the URI and User-Agent are cut at
// maxLoggedField bytes. The line carries the request's request_id.
func accessLog(r *http.Request, status int, header http.Header, took time.Duration) {
	var b strings.Builder
	b.Grow(96 + 2*maxLoggedField)
	b.WriteString("[HTTP] ")
	b.WriteString(strconv.Itoa(status))
	b.WriteString(" - ")
	b.WriteString(r.Method)
	b.WriteByte(' ')
	writeBounded(&b, r.RequestURI)
	b.WriteString(" - ")
	b.WriteString(httpx.GetRemoteAddr(r))
	b.WriteString(" - ")
	writeBounded(&b, r.UserAgent())
	line := b.String()

	fields := make([]logx.LogField, 0, 2)
	// go-zero's tracing middleware propagates the request's trace in the
	// answer (traceparent: version-trace-span-flags).
	if tp := header.Get("Traceparent"); len(tp) == 55 {
		fields = append(fields, logx.Field("span", tp[36:52]), logx.Field("trace", tp[3:35]))
	}
	logger := logx.WithContext(r.Context()).WithDuration(took)
	if status >= http.StatusInternalServerError {
		logger.Errorw(line, fields...)
	} else {
		logger.Infow(line, fields...)
	}
	if took > slowRequest {
		logger.Sloww(line+" - slowcall", fields...)
	}
}

// writeBounded writes s, cut at maxLoggedField bytes (on a rune boundary).
func writeBounded(b *strings.Builder, s string) {
	if len(s) <= maxLoggedField {
		b.WriteString(s)
		return
	}
	cut := maxLoggedField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	b.WriteString(s[:cut])
	b.WriteString("...(")
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteString(" bytes)")
}
