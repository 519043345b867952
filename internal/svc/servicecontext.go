// Package svc wires what every request shares: the store (pools, models,
// replicas, audit trail), the token verifier, the rate limiter, coalescing,
// and the route middlewares project.api declares.
package svc

import (
	"fmt"

	"github.com/zeromicro/go-zero/core/syncx"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/middleware"
	"github.com/clinicaldata/projectsvc/internal/ratelimit"
	"github.com/clinicaldata/projectsvc/internal/store"
)

// ServiceContext holds the process-wide dependencies of the handlers.
type ServiceContext struct {
	Config config.Config
	Store  *store.Store
	// Coalesce joins concurrent identical loads; nil when Coalesce is off.
	Coalesce syncx.SingleFlight
	// Verifier checks bearer tokens; nil when Auth.Disabled.
	Verifier *auth.Verifier
	// Limiter counts each client's requests; nil without Redis (off).
	Limiter *ratelimit.Limiter

	// The route middlewares project.api declares.
	Audit     rest.Middleware
	Auth      rest.Middleware
	RateLimit rest.Middleware
}

// NewServiceContext opens the store (opts: fakes, in tests) and builds the
// rest on it.
func NewServiceContext(c config.Config, opts ...store.Option) (*ServiceContext, error) {
	st, err := store.Open(c.Mysql, opts...)
	if err != nil {
		return nil, err
	}
	s := &ServiceContext{Config: c, Store: st}
	if c.Coalesce {
		s.Coalesce = syncx.NewSingleFlight()
	}
	var trail audit.Writer // none: nothing is audited
	if !c.Auth.Disabled {
		s.Verifier = auth.NewVerifier(c.Auth)
		trail = st.AuditTrail()
	}
	if s.Limiter, err = ratelimit.New(c.Redis, c.RateLimit); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("config Redis.Addr: %w", err)
	}
	s.Auth = middleware.NewAuthMiddleware(s.Verifier).Handle
	s.Audit = middleware.NewAuditMiddleware(trail).Handle
	s.RateLimit = middleware.NewRateLimitMiddleware(s.Limiter).Handle
	return s, nil
}

// Close stops the key refresh and closes the store (the audit writes
// finish first); call it once the HTTP server has drained.
func (s *ServiceContext) Close() error {
	if s.Verifier != nil {
		s.Verifier.Close()
	}
	if s.Limiter != nil {
		s.Limiter.Close()
	}
	return s.Store.Close()
}
