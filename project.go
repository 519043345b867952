// Command project serves the clinical project data API: GET /project/:id.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // the image has no zoneinfo; time zones still resolve

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zeromicro/go-zero/core/logx"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// Stamped at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

var (
	configFile  = flag.String("f", "etc/project-api.yaml", "the config file")
	showVersion = flag.Bool("version", false, "print the version and exit")
	healthcheck = flag.Bool("healthcheck", false, "probe the running service's /healthz (for Docker HEALTHCHECK in a shell-less image) and exit 0 if healthy: on the address the service wrote when it started listening, else the config file's port")
)

func main() {
	flag.Parse()
	if *showVersion {
		fmt.Printf("project %s (commit %s)\n", version, commit)
		return
	}
	if *healthcheck {
		if err := probe(*configFile, "/healthz"); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "project:", err)
		os.Exit(1)
	}
}

func run() error {
	c, err := config.Load(*configFile)
	if err != nil {
		return err
	}
	if err := c.SetUp(); err != nil { // logging, DevServer, tracing
		return fmt.Errorf("config %s: %w", *configFile, err)
	}

	if c.Auth.Disabled {
		logx.Alert("authentication is DISABLED (Auth.Disabled: true): every caller reads every project and no access is audited; never run this in production")
	}
	svcCtx, err := svc.NewServiceContext(c)
	if err != nil {
		return err
	}
	if svcCtx.Limiter == nil {
		logx.Info("rate limiting is OFF: no Redis configured (Redis.Addr or REDIS_ADDR); every client may send as much as it likes")
	} else {
		logx.Infof("rate limiting per client in Redis at %s: %d requests per %s, bursts of %d (RateLimit.*)", c.Redis.Addr, c.RateLimit.Rate, c.RateLimit.Window, c.RateLimit.Burst)
	}
	if err := svcCtx.Store.RegisterPoolMetrics(prometheus.DefaultRegisterer, "project"); err != nil {
		return err
	}
	srv, err := server.New(svcCtx)
	if err != nil {
		_ = svcCtx.Close()
		return err
	}

	logx.Infof("project %s (commit %s) starting on %s:%d", version, commit, c.Host, c.Port)
	// Start returns once a SIGTERM/SIGINT has drained the HTTP server (go-zero's
	// Stop does not stop it). Only then is the pool closed: no in-flight
	// request ever meets a closed pool.
	if err := start(srv); err != nil {
		_ = svcCtx.Close()
		return fmt.Errorf("serve on %s:%d: %w", c.Host, c.Port, err)
	}
	logx.Info("http server drained; closing the database pool")
	if err := svcCtx.Close(); err != nil {
		logx.Errorf("closing the database pool: %v", err)
	}
	logx.Info("database pool closed; bye")
	logx.Close()
	return nil
}

// start runs the server until it has drained. go-zero panics when it cannot
// listen (e.g. the port is taken): that becomes an error, one line, not a
// stack trace.
func start(srv *server.Server) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	srv.Start()
	return nil
}

// probe asks the local service for path: on the address it wrote when it
// started listening (server.AddrFile), else on the config file's port.
func probe(configFile, path string) error {
	addr := ""
	if b, err := os.ReadFile(server.AddrFile); err == nil {
		if _, port, err := net.SplitHostPort(strings.TrimSpace(string(b))); err == nil {
			addr = "127.0.0.1:" + port
		}
	}
	if addr == "" {
		c, err := config.Load(configFile)
		if err != nil {
			return err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", c.Port)
	}
	client := http.Client{Timeout: 2 * time.Second}
	res, err := client.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", path, res.StatusCode)
	}
	return nil
}
