// Command devrun backs `make run` on a machine with no database: it starts a
// throwaway MySQL-compatible container the same way the integration tests do
// (internal/testing/dbtest), loads sql/schema.sql and sql/seed.sql, creates
// the service's database user with exactly sql/grants.sql's privileges,
// starts a local OpenID Provider (internal/testing/oidctest) with a demo
// client and a throwaway Redis container for the rate limits' counters
// (internal/testing/redistest; not when REDIS_ADDR is set: that Redis is
// used), then runs the command it is given (the service) with MYSQL_DSN,
// AUTH_ISSUER and REDIS_ADDR pointing at them, and prints a curl line with a
// token valid for an hour. Ctrl-C stops the service, then removes the
// containers. The images are dbtest's and redistest's: DBTEST_IMAGE and
// REDIS_TEST_IMAGE, which `make run` sets.
//
//	bin/devrun -- bin/project -f etc/project-api.yaml   (make run)
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/redistest"
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
	// the service drains and the container is removed after it exits. The
	// service runs in a process group of its own: a Ctrl-C reaches devrun
	// (and make), and the service gets it exactly once, from here — a second
	// SIGINT during its graceful stop would kill it.
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
	dsn, _, err := srv.CreateServiceUser(ctx, srv.DSN(db))
	if err != nil {
		return 1, fmt.Errorf("create the service's database user: %w", err)
	}
	iss, err := oidctest.New(oidctest.DemoClients...)
	if err != nil {
		return 1, fmt.Errorf("start the local OpenID Provider: %w", err)
	}
	defer iss.Stop()
	token, err := iss.Token(ctx, "demo", "demo-secret", "project:read:all")
	if err != nil {
		return 1, err
	}
	redisAddr, stopRedis, err := startRedis(ctx)
	if err != nil {
		return 1, err
	}
	removed := "database"
	if stopRedis != nil {
		defer stopRedis()
		removed = "database and Redis"
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "MYSQL_DSN="+dsn, "AUTH_ISSUER="+iss.URL, "REDIS_ADDR="+redisAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if !ready(done) {
		return exitCode(<-done)
	}
	fmt.Printf("devrun: demo data loaded; the local OpenID Provider is %s; rate limiting is on, with Redis at %s."+
		" Try (the token is valid for an hour):\n\n"+
		"    curl -s -H \"Authorization: Bearer %s\" localhost:8888/project/1\n\n"+
		"More tokens: curl -s -u demo:demo-secret -d grant_type=client_credentials -d scope=project:read:all %s/oauth/token\n"+
		"(or site-aarhus:aarhus-secret with scope=project:read: project 1 only). Ctrl-C stops the service and removes the %s.\n",
		iss.URL, redisAddr, token, iss.URL, removed)
	forwarded := false
	for {
		select {
		case sig := <-signals:
			if !forwarded { // one stop request; the service drains on it
				forwarded = true
				_ = cmd.Process.Signal(sig)
			}
		case err := <-done:
			return exitCode(err)
		}
	}
}

// startRedis starts a throwaway Redis container for the service's rate
// limits and returns its address and the func that removes it; with
// REDIS_ADDR set it starts nothing and returns that address (and no func).
func startRedis(ctx context.Context) (string, func(), error) {
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		fmt.Printf("devrun: using the Redis at %s (REDIS_ADDR)\n", addr)
		return addr, nil, nil
	}
	fmt.Printf("devrun: starting a throwaway Redis (%s)...\n", redistest.Image())
	srv, err := redistest.StartContext(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("start Redis: %w", err)
	}
	stop := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Terminate(stopCtx); err != nil {
			fmt.Fprintln(os.Stderr, "devrun: remove Redis container:", err)
		} else {
			fmt.Println("devrun: Redis container removed")
		}
	}
	return srv.Addr(), stop, nil
}

// ready waits until the service answers /readyz on the shipped port, or it
// exits (false).
func ready(done chan error) bool {
	client := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case err := <-done:
			done <- err
			return false
		case <-time.After(200 * time.Millisecond):
		}
		if res, err := client.Get("http://127.0.0.1:8888/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
	}
	return true // slow to be ready: say how to try it anyway
}

func exitCode(err error) (int, error) {
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), nil
	case err != nil:
		return 1, err
	}
	return 0, nil
}
