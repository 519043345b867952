// Docker discovery, Ryuk, and removing containers left behind.

package dbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

var (
	prepareOnce   sync.Once
	prepareReason string
	reapOnce      sync.Once
)

// prepareDocker checks that a Docker daemon answers and, before
// testcontainers reads its configuration (once per process), disables Ryuk
// when its image is not present locally. It returns why Docker is unusable,
// or "".
func prepareDocker(ctx context.Context) string {
	prepareOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()

		// 1. The daemon the environment names, else the usual local sockets
		// (testcontainers looks at more places; those are checked below).
		hosts := []string{os.Getenv("DOCKER_HOST")}
		if hosts[0] == "" {
			hosts = localSockets()
		}
		var cli *client.Client
		var lastErr error
		for _, h := range hosts {
			c, err := client.New(client.FromEnv, client.WithHost(h))
			if err != nil {
				lastErr = err
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = c.Ping(pctx, client.PingOptions{})
			pcancel()
			if err != nil {
				c.Close()
				lastErr = err
				continue
			}
			cli = c
			break
		}
		if cli == nil && os.Getenv("DOCKER_HOST") != "" {
			prepareReason = fmt.Sprintf("DOCKER_HOST=%s: %s", os.Getenv("DOCKER_HOST"), oneLine(lastErr))
			return
		}
		if cli != nil {
			configureRyuk(ctx, cli)
			cli.Close()
		}

		// 2. What testcontainers itself will use.
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			prepareReason = oneLine(err)
			if cli == nil {
				prepareReason = fmt.Sprintf("DOCKER_HOST unset and no daemon at %s (testcontainers: %s)",
					strings.Join(hosts, ", "), oneLine(err))
			}
			return
		}
		defer p.Close()
		if _, err := p.Client().Ping(ctx, client.PingOptions{}); err != nil {
			prepareReason = oneLine(err)
		}
	})
	return prepareReason
}

func localSockets() []string {
	socks := []string{"unix:///var/run/docker.sock"}
	if runtime.GOOS == "windows" {
		return []string{"npipe:////./pipe/docker_engine"}
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		socks = append(socks, "unix://"+filepath.Join(d, "docker.sock"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		socks = append(socks,
			"unix://"+filepath.Join(home, ".docker", "run", "docker.sock"),
			"unix://"+filepath.Join(home, ".docker", "desktop", "docker.sock"))
	}
	return socks
}

// configureRyuk sets TESTCONTAINERS_RYUK_DISABLED=true, unless it is set
// already, when the Ryuk image is not present on the daemon (a registry-less
// daemon could not pull it, and every container start would fail).
func configureRyuk(ctx context.Context, cli *client.Client) {
	if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); set {
		return
	}
	//lint:ignore SA1019 the image this testcontainers version runs as Ryuk
	img := testcontainers.ReaperDefaultImage
	candidates := []string{img}
	if prefix := os.Getenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"); prefix != "" {
		candidates = append(candidates, strings.TrimSuffix(prefix, "/")+"/"+img)
	}
	for _, c := range candidates {
		_, err := cli.ImageInspect(ctx, c)
		if err == nil || !cerrdefs.IsNotFound(err) {
			return // present, or unknown: leave testcontainers' default
		}
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	fmt.Fprintf(os.Stderr, "dbtest: %s not present locally: Ryuk disabled, dbtest terminates its containers itself\n", img)
}

// reapLeftovers removes dbtest containers that were started on this machine
// by test binaries that no longer run (crashed, killed, timed out).
func reapLeftovers(ctx context.Context, cli client.APIClient) {
	hostname, err := os.Hostname()
	if err != nil {
		return
	}
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelKey+"=1", labelHost+"="+hostname),
	})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		pid, err := strconv.Atoi(c.Labels[labelPID])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_, err = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil {
			fmt.Fprintf(os.Stderr, "dbtest: removed leftover container %.12s of exited test process %d\n", c.ID, pid)
		}
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if runtime.GOOS == "windows" {
		return true // FindProcess fails there for processes that do not exist
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, os.ErrPermission)
}
