package middleware

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/rest/httpx"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/ratelimit"
)

// RateLimitMiddleware counts each request of a verified caller against its
// client's quota, right after authentication and before any read, and
// refuses it with 429 resource_exhausted (and Retry-After) once the quota
// is used up. Every answer it lets through carries the quota in
// RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers). A
// refusal discloses nothing and asks for nothing: it leaves no audit row;
// it is counted (project_rate_limited_total) and logged at most once a
// second.
type RateLimitMiddleware struct {
	limiter *ratelimit.Limiter // nil: rate limiting is off (no Redis configured)
	log     refusalLog
}

// NewRateLimitMiddleware limits with l; a nil l limits nothing.
func NewRateLimitMiddleware(l *ratelimit.Limiter) *RateLimitMiddleware {
	return &RateLimitMiddleware{limiter: l}
}

func (m *RateLimitMiddleware) Handle(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := auth.From(r.Context())
		if m.limiter == nil || p == nil || p == auth.Anonymous {
			next(w, r)
			return
		}
		client := p.ClientID
		if client == "" {
			client = p.Subject
		}
		d := m.limiter.Take(r.Context(), client)
		reset := strconv.Itoa(int((d.Reset + time.Second - 1) / time.Second)) // whole seconds, rounded up
		h := w.Header()
		h.Set("RateLimit-Policy", d.Policy.Header())
		h.Set("RateLimit", strconv.Quote(d.Policy.Name)+";r="+strconv.Itoa(d.Remaining)+";t="+reset)
		if d.Allowed {
			next(w, r)
			return
		}
		audit.Unaudited(r.Context())
		h.Set("Retry-After", reset)
		m.log.refused(client)
		httpx.ErrorCtx(r.Context(), w, errs.New(errs.ResourceExhausted, fmt.Sprintf(
			"the client's quota of %d requests per %s is used up; retry after %s s", d.Policy.Quota, d.Policy.Period, reset), nil))
	}
}

// refusalLog writes a line for the first 429 and then at most one a second,
// with the number of refusals it left out since the last.
type refusalLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *refusalLog) refused(client string) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if len(client) > 64 {
		client = client[:64] + "..."
	}
	logx.Infow("request refused: rate limit", logx.Field("client", client), logx.Field("suppressed", suppressed))
}
