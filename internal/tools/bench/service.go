package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// BaseConfig is the shipped configuration as the bench process sets it up
// once (logging, metrics): nothing listens beyond loopback, and the dev
// server (metrics, pprof) is moved to a free loopback port.
func BaseConfig() (config.Config, error) {
	layers, err := Layers("u:p@tcp(127.0.0.1:1)/none", fmt.Sprintf("DevServer: {Host: 127.0.0.1, Port: %d}", testenv.FreePort()), Variant{})
	if err != nil {
		return config.Config{}, err
	}
	merged, err := config.MergeYAML(layers...)
	if err != nil {
		return config.Config{}, err
	}
	return LoadConfig(merged)
}

// Service is one instance of the service running in this process on a
// loopback port: the real router, middlewares and error table (rest.Server
// wrapped by rest.NewServerless), served by a plain http.Server.
type Service struct {
	URL     string
	Svc     *svc.ServiceContext
	Variant Variant
	srv     *http.Server

	answered, inFlight atomic.Int64
	outer              atomic.Int64 // requests in the server (serving)
}

// StartService builds variant v over the database dsn as project.go builds
// the service and serves it on 127.0.0.1.
func StartService(dsn string, v Variant) (*Service, error) {
	layers, err := Layers(dsn, "", v)
	if err != nil {
		return nil, err
	}
	merged, err := config.MergeYAML(layers...)
	if err != nil {
		return nil, err
	}
	c, err := LoadConfig(merged)
	if err != nil {
		return nil, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	var opts []store.Option
	if v.Serial {
		opts = append(opts, store.WithModels(serializeReads))
	}
	s, err := svc.NewServiceContext(c, opts...)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(s)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	out := &Service{Svc: s, Variant: v}
	srv.Use(out.count)
	if v.Serial {
		srv.Use(withRequestLock)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	if out.URL, out.srv, err = serve(out.serving(http.HandlerFunc(sl.Serve)), time.Duration(c.Timeout)*time.Millisecond); err != nil {
		_ = s.Close()
		return nil, err
	}
	return out, nil
}

// count counts the requests whose handler (route middlewares included:
// Audit, Auth) has run. It runs inside the service's answering middleware
// (internal/server/answer.go: the deadline, the audit's Finish), which
// sends the answer once the handler has returned and the answer's audit
// rows are committed — or answers 499 or 504 at the deadline without
// waiting for a handler still running, which then finishes on its own.
func (s *Service) count(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		next(w, r)
		s.answered.Add(1)
	}
}

// serving counts the requests the whole server (every middleware) is
// still serving: an answer waiting for its audit rows after its handler
// returned is one.
func (s *Service) serving(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.outer.Add(1)
		defer s.outer.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// Answered is how many requests the service's handler has run for so far.
func (s *Service) Answered() int64 { return s.answered.Load() }

// Settle waits (up to 10 s) until no request is being served and no
// handler runs: every answer's audit rows are committed by then, and the
// handlers of the requests a load generator gave up on when it stopped
// have finished.
func (s *Service) Settle() {
	for deadline := time.Now().Add(10 * time.Second); (s.inFlight.Load() > 0 || s.outer.Load() > 0) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}

// serve serves h on a free loopback port with the read and write timeouts
// go-zero's own Start sets for a request timeout (rest/engine.go
// withNetworkTimeout).
func serve(h http.Handler, timeout time.Duration) (string, *http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadTimeout: 4 * timeout / 5, WriteTimeout: 11 * timeout / 10}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), hs, nil
}

// shutdown stops hs, waiting up to 10 s for requests in flight.
func shutdown(hs *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(ctx)
}

// Close stops serving, then closes the pool.
func (s *Service) Close() error {
	err := shutdown(s.srv)
	if cerr := s.Svc.Close(); err == nil {
		err = cerr
	}
	return err
}
