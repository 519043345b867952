// Command project serves the clinical project data API: GET /project/:id.
package main

import (
	"flag"
	"fmt"
	"os"

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
)

func main() {
	flag.Parse()
	if *showVersion {
		fmt.Printf("project %s (commit %s)\n", version, commit)
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

	svcCtx, err := svc.NewServiceContext(c)
	if err != nil {
		return err
	}
	srv, err := server.New(svcCtx)
	if err != nil {
		_ = svcCtx.Close()
		return err
	}

	logx.Infof("project %s (commit %s) listening on %s:%d", version, commit, c.Host, c.Port)
	// Start returns once a SIGTERM/SIGINT has drained the HTTP server (go-zero's
	// Stop does not stop it). Only then is the pool closed: no in-flight
	// request ever meets a closed pool.
	srv.Start()
	logx.Info("http server drained; closing the database pool")
	if err := svcCtx.Close(); err != nil {
		logx.Errorf("closing the database pool: %v", err)
	}
	logx.Info("database pool closed; bye")
	logx.Close()
	return nil
}
