// The server: its image, starting its container on a pinned host port, its
// address, removing it.

package redistest

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

const (
	defaultImage = "redis:7"
	imageEnv     = "REDIS_TEST_IMAGE"

	labelKey = "projectsvc.redistest"

	redisPort      = "6379/tcp"
	startupTimeout = time.Minute
	opTimeout      = time.Minute
	pollInterval   = 20 * time.Millisecond
)

// Image is the Redis image: env REDIS_TEST_IMAGE, default "redis:7".
func Image() string {
	if img := strings.TrimSpace(os.Getenv(imageEnv)); img != "" {
		return img
	}
	return defaultImage
}

// state is where a server is in its fault cycle.
type state int

const (
	running state = iota
	paused
	killed
	terminated
)

func (s state) String() string {
	return [...]string{"running", "paused", "killed", "terminated"}[s]
}

// Server is Redis in a container, published on a host port that stays the
// same for the container's life.
type Server struct {
	ctr   *testcontainers.DockerContainer
	image string
	port  int // the pinned host port
	// releasePort hands port back to pinPort once the container is gone.
	releasePort func()
	// shared: the binary's server (Shared); faults are refused on it.
	shared bool

	mu    sync.Mutex // guards host and state; held across fault operations
	host  string     // where PING answered the published port
	state state

	termOnce sync.Once
	termErr  error
}

// noDockerError reports that no Docker daemon is reachable.
type noDockerError struct{ reason string }

func (e *noDockerError) Error() string { return "redistest: no Docker daemon: " + e.reason }

// StartContext starts a Redis container and waits until it answers PING on
// its published port. It is for tools (devrun): the caller removes it with
// Terminate, and no signal handling is installed. Tests use Start or Shared.
//
// The host port is chosen up front (a free one, another one if Docker finds
// it taken) and pinned in the container's configuration, so that it survives
// Kill and Restart.
func StartContext(ctx context.Context) (*Server, error) {
	if reason := prepareDocker(ctx); reason != "" {
		return nil, &noDockerError{reason: reason}
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return nil, &noDockerError{reason: oneLine(err)}
	}
	defer provider.Close()
	reapOnce.Do(func() { reapLeftovers(ctx, provider.Client()) })

	// A daemon publishing on this machine's loopback gets the port bound to
	// 127.0.0.1 only; elsewhere (remote daemon, tests inside a container)
	// on all interfaces, and the wait strategy finds the address (as dbtest).
	daemonHost, err := provider.DaemonHost(ctx)
	local := err == nil && isLoopback(daemonHost)

	img := Image()
	hint := ""
	if _, err := provider.Client().ImageInspect(ctx, img); cerrdefs.IsNotFound(err) {
		hint = fmt.Sprintf(" (image %s is not present locally; without a registry, build one with"+
			" `bash .ci/images/redis.sh` and set %s=projectsvc-redis:7)", img, imageEnv)
	}

	s := &Server{image: img}
	// The wait strategy records the host under s.mu, as on Restart.
	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 1; ; attempt++ {
		port, release := pinPort()
		if port == 0 {
			return nil, fmt.Errorf("redistest: start %s: no free host port", img)
		}
		s.port = port
		s.ctr, err = s.run(ctx, local)
		if err == nil {
			s.releasePort = release
			return s, nil
		}
		release()
		if attempt == 3 || !isPortConflict(err) {
			return nil, fmt.Errorf("redistest: start %s: %w%s", img, err, hint)
		}
	}
}

// run creates and starts the container with 6379 published on s.port, on
// loopback only when the daemon is local, and waits until PING answers.
func (s *Server) run(ctx context.Context, loopbackOnly bool) (*testcontainers.DockerContainer, error) {
	var bindIP netip.Addr
	if loopbackOnly {
		bindIP = netip.MustParseAddr("127.0.0.1")
	}
	labels := dbtest.Labels()
	maps.Copy(labels, map[string]string{labelKey: "1"})
	ctr, err := testcontainers.Run(ctx, s.image,
		testcontainers.WithLabels(labels),
		testcontainers.WithExposedPorts(redisPort),
		// Arguments only: the image's entrypoint runs redis-server with them
		// (the official image and projectsvc-redis alike). Nothing persisted.
		testcontainers.WithCmdArgs("--save", "", "--appendonly", "no"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{
				network.MustParsePort(redisPort): {{HostIP: bindIP, HostPort: strconv.Itoa(s.port)}},
			}
		}),
		// PING answering through the published port, which is what clients
		// need; it also records where it answered (see pingReady).
		testcontainers.WithWaitStrategyAndDeadline(startupTimeout, &pingReady{s: s, timeout: startupTimeout}),
	)
	if err != nil {
		if ctr != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
			defer cancel()
			_ = ctr.Terminate(cctx, testcontainers.StopTimeout(0))
		}
		return nil, err
	}
	return ctr, nil
}

// Addr is host:port of the published Redis port, as the test process (or
// the tool) reaches it: 127.0.0.1 when the daemon publishes ports on this
// machine. It stays the same across Kill and Restart.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrLocked()
}

// Terminate removes the container (paused, killed or running). Safe to call
// more than once and concurrently: later calls wait for the first one and
// return its error.
func (s *Server) Terminate(ctx context.Context) error {
	s.termOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state == paused {
			_ = s.unpause(ctx) // not every engine stops a paused container
		}
		if err := s.ctr.Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
			s.termErr = fmt.Errorf("redistest: terminate: %w", err)
		}
		s.state = terminated
		if s.releasePort != nil {
			s.releasePort()
		}
		unregister(s)
	})
	return s.termErr
}

// Container is the underlying testcontainers container.
func (s *Server) Container() testcontainers.Container {
	return s.ctr
}

func isPortConflict(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func oneLine(err error) string {
	if err == nil {
		return "unknown error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
