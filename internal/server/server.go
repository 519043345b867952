// Package server assembles the REST server: the generated routes, the probes,
// the one error table, and a guard that gives every error answer a JSON
// body and every 503 a Retry-After. project.go and the tests build the
// server through New, so tests exercise exactly what runs in production.
package server

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/proc"
	"github.com/zeromicro/go-zero/rest"
	"github.com/zeromicro/go-zero/rest/httpx"
	"github.com/zeromicro/go-zero/rest/router"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/handler"
	"github.com/clinicaldata/projectsvc/internal/openapi"
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
	rs, err := newRest(rc, svcCtx.Config.MaxHeaderBytes)
	if err != nil {
		return nil, err
	}
	s := &Server{Server: rs, svcCtx: svcCtx}
	handler.RegisterHandlers(rs, svcCtx)
	addHeadRoutes(rs)
	document := openapi.ForIssuer(svcCtx.Config.Auth.Issuer)
	rs.AddRoutes([]rest.Route{
		{Method: http.MethodGet, Path: "/healthz", Handler: s.healthz},
		{Method: http.MethodGet, Path: "/readyz", Handler: s.readyz},
		{Method: http.MethodGet, Path: "/openapi.json", Handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json"}
			_, _ = w.Write(document)
		}},
	})
	// Readiness turns 503 as soon as shutdown begins: go-zero runs wrap-up
	// listeners first, then (after Shutdown.WrapUpTime) drains the server.
	proc.AddWrapUpListener(s.Drain)
	return s, nil
}

// newRest is the service's rest.Server without routes: go-zero's
// middlewares (its access log replaced by the guard's), the one error
// table, the guard (request ids, header bound, JSON errors) and JSON
// 404/405.
func newRest(c rest.RestConf, maxHeaderBytes int) (*rest.Server, error) {
	httpx.SetErrorHandlerCtx(errs.Handle)
	// The guard writes the access log (accessLog): go-zero's would dump
	// the request, bearer token included, for every 5xx. The request
	// deadline is the service's own (answer.go), without go-zero's copy
	// of every answer and its Accept: text/event-stream exemption.
	c.Middlewares.Log = false
	c.Middlewares.Timeout = false
	rs, err := rest.NewServer(c,
		rest.WithRouter(guardRouter{Router: router.NewRouter(), maxHeaderBytes: maxHeaderBytes}),
		rest.WithNotFoundHandler(errorHandler(errs.Newf(errs.NotFound, "no such route"))),
		rest.WithNotAllowedHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			httpx.ErrorCtx(r.Context(), w, errs.New(errs.MethodNotAllowed, "", nil))
		})),
	)
	if err != nil {
		return nil, err
	}
	quietShedding() // after rest.NewServer: it sets logx up
	if c.Timeout > 0 {
		rs.Use(answering(time.Duration(c.Timeout) * time.Millisecond))
	}
	return rs, nil
}

// Start serves until a SIGTERM/SIGINT has drained the server, with the
// network timeouts go-zero sets when its own timeout middleware is on (a
// client cannot hold a connection by sending or reading slowly; the write
// timeout leaves room for an answer's audit rows after the deadline) and
// the header bound: past MaxHeaderBytes the guard answers 431, past 4 KiB
// more net/http stops reading and answers its own plain-text 431.
//
// Once it listens it logs the address (with Port: 0, the one the system
// chose) and writes it to AddrFile, where -healthcheck finds it whatever
// config file the service was started with.
func (s *Server) Start() {
	timeout := time.Duration(s.svcCtx.Config.Timeout) * time.Millisecond
	s.Server.StartWithOpts(func(hs *http.Server) {
		hs.ReadTimeout = 4 * timeout / 5
		hs.WriteTimeout = 11*timeout/10 + audit.WriteTimeout
		hs.MaxHeaderBytes = s.svcCtx.Config.MaxHeaderBytes
		hs.BaseContext = func(l net.Listener) context.Context {
			addr := l.Addr().String()
			logx.Infof("listening on %s", addr)
			if err := os.WriteFile(AddrFile, []byte(addr+"\n"), 0o644); err != nil {
				logx.Infof("cannot write %s for -healthcheck (%v): it will read the config file's port", AddrFile, err)
			}
			return context.Background()
		}
	})
}

// AddrFile is where a listening service writes its address (for
// -healthcheck).
var AddrFile = filepath.Join(os.TempDir(), "project-api.addr")

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
	if err := s.svcCtx.Store.PingPrimary(ctx); err != nil {
		// Without the primary, replicas can still serve reads — unless
		// every answer needs its audit rows, which are written on the primary.
		if s.svcCtx.Verifier != nil || !s.svcCtx.Store.AnyReplicaHealthy() {
			httpx.ErrorCtx(r.Context(), w, errs.New(errs.Unavailable, "the database does not answer", err))
			return
		}
	}
	httpx.OkJsonCtx(r.Context(), w, map[string]string{"status": "ready"})
}

// addHeadRoutes answers HEAD on every GET route (RFC 9110 §9.3.2) with the
// route's own handler, middlewares included — so a HEAD is authenticated
// and audited like the GET; the answer holder (answer.go) sends its headers
// without the body. (Route options such as a per-route timeout are not
// carried over; the service sets none.)
func addHeadRoutes(rs *rest.Server) {
	var heads []rest.Route
	for _, rt := range rs.Routes() {
		if rt.Method == http.MethodGet {
			heads = append(heads, rest.Route{Method: http.MethodHead, Path: rt.Path, Handler: rt.Handler})
		}
	}
	rs.AddRoutes(heads)
}

func errorHandler(e *errs.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.ErrorCtx(r.Context(), w, e)
	})
}
