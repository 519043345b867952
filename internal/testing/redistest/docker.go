// Docker: is a daemon there, Ryuk, and a client for the fault operations.

package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

var (
	prepareOnce   sync.Once
	prepareReason string
)

// prepareDocker checks, once per process, that a Docker daemon answers
// and, before testcontainers reads its configuration, disables Ryuk when its
// image is not present locally (a registry-less daemon could not pull it,
// and every container start would fail). It returns why Docker is unusable,
// or "". An explicitly set DOCKER_HOST that does not answer counts as no
// daemon: testcontainers would silently fall back to the default socket.
// It is dbtest's check (unexported there), so both agree in one binary.
func prepareDocker(ctx context.Context) string {
	prepareOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()

		// 1. The daemon the environment names, else the usual local sockets,
		// through a plain client: testcontainers reads its configuration,
		// Ryuk's included, once on first use, so Ryuk is settled before.
		hosts := []string{os.Getenv("DOCKER_HOST")}
		if hosts[0] == "" {
			hosts = localSockets()
		}
		var lastErr error
		found := false
		for _, h := range hosts {
			c, err := client.New(client.FromEnv, client.WithHost(h))
			if err != nil {
				lastErr = err
				continue
			}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = c.Ping(pctx, client.PingOptions{})
			pcancel()
			if err == nil {
				configureRyuk(ctx, c)
				found = true
			}
			c.Close()
			if found {
				break
			}
			lastErr = err
		}
		if !found && os.Getenv("DOCKER_HOST") != "" {
			prepareReason = fmt.Sprintf("DOCKER_HOST=%s: %s", os.Getenv("DOCKER_HOST"), oneLine(lastErr))
			return
		}

		// 2. What testcontainers itself will use.
		p, err := testcontainers.NewDockerProvider()
		if err != nil {
			prepareReason = oneLine(err)
			if !found {
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
	if runtime.GOOS == "windows" {
		return []string{"npipe:////./pipe/docker_engine"}
	}
	socks := []string{"unix:///var/run/docker.sock"}
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
// already (dbtest does the same when it runs first in the process), when the
// Ryuk image is not present on the daemon.
func configureRyuk(ctx context.Context, cli client.APIClient) {
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
	fmt.Fprintf(os.Stderr, "redistest: %s not present locally: Ryuk disabled, redistest removes its containers itself\n", img)
}

// withDocker runs f with a Docker client (testcontainers' choice of daemon),
// closed afterwards.
func withDocker(ctx context.Context, f func(client.APIClient) error) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	return f(cli)
}
