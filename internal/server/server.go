// Package server assembles the REST server: the generated routes, the probes,
// the one error table, and a guard that gives every error response a JSON
// body and every 503 a Retry-After. project.go and the tests build the
// server through New, so tests exercise exactly what runs in production.
package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/zeromicro/go-zero/core/proc"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/router"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/handler"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// readinessPingTimeout bounds the database ping behind /readyz.
const readinessPingTimeout = time.Second

// Server is the service's REST server and its probes' state.
type Server struct {
	*rest.Server
	svcCtx   *svc.ServiceContext
	draining atomic.Bool
}

// New builds the server on svcCtx. It does not start it.
func New(svcCtx *svc.ServiceContext) (*Server, error) {
	rc := svcCtx.Config.RestConf
	rc.CpuThreshold = sheddingThreshold(svcCtx.Config)
	rs, err := newRest(rc)
	if err != nil {
		return nil, err
	}
	s := &Server{Server: rs, svcCtx: svcCtx}
	handler.RegisterHandlers(rs, svcCtx)
	addHeadRoutes(rs)
	rs.AddRoutes([]rest.Route{
		{Method: http.MethodGet, Path: "/healthz", Handler: s.healthz},
		{Method: http.MethodGet, Path: "/readyz", Handler: s.readyz},
	})
	// Readiness turns 503 as soon as shutdown begins: go-zero runs wrap-up
	// listeners first, then (after Shutdown.WrapUpTime) drains the server.
	proc.AddWrapUpListener(s.Drain)
	return s, nil
}

// newRest is the service's rest.Server without routes: go-zero's
// middlewares (its access log replaced by the guard's), the one error
// table, the response guard and JSON 404/405.
func newRest(c rest.RestConf) (*rest.Server, error) {
	httpx.SetErrorHandlerCtx(errs.Handle)
	// The guard writes the access log (accessLog): go-zero's would dump
	// the request, bearer token included, for every 5xx. The request
	// deadline is the service's own (deadline.go), without go-zero's copy
	// of every answer and its Accept: text/event-stream exemption.
	c.Middlewares.Log = false
	c.Middlewares.Timeout = false
	rs, err := rest.NewServer(c,
		rest.WithRouter(guardRouter{router.NewRouter()}),
		rest.WithNotFoundHandler(errorHandler(errs.Newf(errs.NotFound, "no such route"))),
		rest.WithNotAllowedHandler(errorHandler(errs.Newf(errs.InvalidArgument, "method not allowed on this route"))),
	)
	if err != nil {
		return nil, err
	}
	quietShedding() // after rest.NewServer: it sets logx up
	if c.Timeout > 0 {
		rs.Use(deadline(time.Duration(c.Timeout) * time.Millisecond))
	}
	return rs, nil
}

// Start serves until a SIGTERM/SIGINT has drained the server, with the
// network timeouts go-zero sets when its own timeout middleware is on: a
// client cannot hold a connection by sending or reading slowly.
func (s *Server) Start() {
	timeout := time.Duration(s.svcCtx.Config.Timeout) * time.Millisecond
	s.Server.StartWithOpts(func(hs *http.Server) {
		hs.ReadTimeout = 4 * timeout / 5
		hs.WriteTimeout = 11 * timeout / 10
	})
}

// Drain marks the server as shutting down: /readyz answers 503 from now on.
func (s *Server) Drain() { s.draining.Store(true) }

// healthz is liveness: 200 while the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.OkJsonCtx(r.Context(), w, map[string]string{"status": "ok"})
}

// readyz is readiness: 200 only when shutdown has not begun, the issuer's
// signing keys are loaded (tokens can be checked) and the primary answers
// a ping quickly (or, with no audit trail to write, a replica is healthy).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpx.ErrorCtx(r.Context(), w, errs.Newf(errs.Unavailable, "shutting down"))
		return
	}
	if v := s.svcCtx.Verifier; v != nil && !v.Ready() {
		httpx.ErrorCtx(r.Context(), w, errs.Newf(errs.Unavailable, "the identity provider's signing keys are not loaded yet"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readinessPingTimeout)
	defer cancel()
	if err := s.svcCtx.DB.PingContext(ctx); err != nil {
		// Without the primary, replicas can still serve reads — unless
		// every answer needs its audit row, which is written on the primary.
		if rs := s.svcCtx.Replicas; rs == nil || s.svcCtx.AuditTrail != nil || !rs.AnyHealthy() {
			httpx.ErrorCtx(r.Context(), w, errs.New(errs.Unavailable, "the database does not answer", err))
			return
		}
	}
	httpx.OkJsonCtx(r.Context(), w, map[string]string{"status": "ready"})
}

// addHeadRoutes answers HEAD on every GET route (RFC 9110 §9.3.2): the
// route's own handler, middlewares included — so a HEAD is authenticated
// and audited like the GET — with the body dropped. Content-Length still
// tells the GET's size where the handler set it. (Route options such as a
// per-route timeout are not carried over; the service sets none.)
func addHeadRoutes(rs *rest.Server) {
	var heads []rest.Route
	for _, rt := range rs.Routes() {
		if rt.Method == http.MethodGet {
			get := rt.Handler
			heads = append(heads, rest.Route{Method: http.MethodHead, Path: rt.Path, Handler: func(w http.ResponseWriter, r *http.Request) {
				get(bodiless{w}, r)
			}})
		}
	}
	rs.AddRoutes(heads)
}

// bodiless drops a response's body.
type bodiless struct{ http.ResponseWriter }

func (b bodiless) Write(p []byte) (int, error) { return len(p), nil }

func errorHandler(e *errs.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.ErrorCtx(r.Context(), w, e)
	})
}
