package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/testing/cpulimit"
	"github.com/clinicaldata/projectsvc/internal/testing/testenv"
)

// BuildService builds the service binary (package main at the repository
// root) into dir as `make build` does, and returns its path.
func BuildService(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "project")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = testenv.Path(".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Process is the service running as an OS process of its own.
type Process struct {
	URL    string
	DevURL string // go-zero's DevServer: /metrics, /debug/pprof
	Pid    int
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// StartProcess runs the service binary bin with variant v's configuration
// over dsn (written to dir/<variant>.yaml: the shipped file, free loopback
// ports, the overrides), inside limit when it is not nil, its output
// written to logPath. It returns once /healthz answers.
func StartProcess(bin, dir, dsn string, v Variant, limit *cpulimit.Limit, logPath string) (*Process, error) {
	port, devPort := testenv.FreePort(), testenv.FreePort()
	layers, err := Layers(dsn, fmt.Sprintf("Port: %d\nDevServer: {Host: 127.0.0.1, Port: %d}", port, devPort), v)
	if err != nil {
		return nil, err
	}
	merged, err := config.MergeYAML(layers...)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, v.Name+".yaml")
	if err := os.WriteFile(file, merged, 0o600); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	argv := []string{bin, "-f", file}
	if limit != nil {
		argv = limit.Command(argv)
	}
	p := &Process{URL: fmt.Sprintf("http://127.0.0.1:%d", port), DevURL: fmt.Sprintf("http://127.0.0.1:%d", devPort), exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	p.Pid = p.cmd.Process.Pid
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("service %s exited at start: %v (log: %s)", v.Name, p.err, logPath)
		default:
		}
		if res, err := http.Get(p.URL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.Close()
	return nil, fmt.Errorf("service %s did not answer /healthz within 20s (log: %s)", v.Name, logPath)
}

// Close stops the process with SIGTERM (a graceful drain), killing it if
// it has not exited after 15 s.
func (p *Process) Close() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("the service did not exit within 15 s of SIGTERM; killed")
	}
	return p.err
}
