// Command devrun backs `make run` on a machine with no database: it starts a
// throwaway MySQL-compatible container the same way the integration tests do
// (internal/testing/dbtest), loads sql/schema.sql and sql/seed.sql, then runs the
// command it is given (the service) with MYSQL_DSN pointing at it. Ctrl-C
// stops the service, then removes the container.
//
//	go run ./internal/tools/devrun -- bin/project -f etc/project-api.yaml
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: devrun -- COMMAND [ARGS...]")
		os.Exit(2)
	}
	code, err := run(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devrun:", err)
	}
	os.Exit(code)
}

func run(args []string) (int, error) {
	// Signals are forwarded to the service, never acted on here directly, so
	// the service drains and the container is removed after it exits.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	ctx := context.Background()
	fmt.Printf("devrun: starting a throwaway database (%s)...\n", dbtest.Image())
	srv, err := dbtest.Start(ctx)
	if err != nil {
		return 1, fmt.Errorf("start database: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Terminate(stopCtx); err != nil {
			fmt.Fprintln(os.Stderr, "devrun: remove database container:", err)
		} else {
			fmt.Println("devrun: database container removed")
		}
	}()
	db, err := srv.CreateDatabase(ctx, "sql/schema.sql", "sql/seed.sql")
	if err != nil {
		return 1, fmt.Errorf("load schema and demo data: %w", err)
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "MYSQL_DSN="+srv.DSN(db))
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	fmt.Printf("devrun: demo data loaded; try:\n\n    curl -s localhost:8888/project/1\n\n(Ctrl-C stops the service and removes the database)\n")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-signals:
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return exit.ExitCode(), nil
			}
			if err != nil {
				return 1, err
			}
			return 0, nil
		}
	}
}
