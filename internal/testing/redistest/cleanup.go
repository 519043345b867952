// Removing servers on SIGINT/SIGTERM, and those left behind by test
// processes that are gone.

package redistest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/client"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

// live are the test servers (Start, Shared) not yet removed. While there are
// any, SIGINT and SIGTERM remove them and exit 128+signal: t.Cleanup and
// the end of Main would never run. (dbtest.Main, when it runs in the same
// binary, races to exit too; whatever either leaves behind is removed as a
// leftover by the next run.) StartContext's servers are not registered:
// their tools handle signals themselves.
var live struct {
	mu      sync.Mutex
	servers map[*Server]struct{}
	sigc    chan os.Signal
	done    chan struct{}
}

func register(s *Server) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if len(live.servers) == 0 {
		live.servers = map[*Server]struct{}{}
		live.sigc = make(chan os.Signal, 1)
		live.done = make(chan struct{})
		signal.Notify(live.sigc, os.Interrupt, syscall.SIGTERM)
		go watchSignals(live.sigc, live.done)
	}
	live.servers[s] = struct{}{}
}

func unregister(s *Server) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if _, ok := live.servers[s]; !ok {
		return
	}
	delete(live.servers, s)
	if len(live.servers) == 0 {
		signal.Stop(live.sigc)
		close(live.done)
	}
}

func watchSignals(sigc <-chan os.Signal, done <-chan struct{}) {
	select {
	case sig := <-sigc:
		fmt.Fprintf(os.Stderr, "redistest: %v: removing the Redis containers\n", sig)
		live.mu.Lock()
		var servers []*Server
		for s := range live.servers {
			servers = append(servers, s)
		}
		live.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Go(func() {
				if err := s.Terminate(ctx); err != nil {
					fmt.Fprintln(os.Stderr, err)
				}
			})
		}
		wg.Wait()
		code := 1
		if n, ok := sig.(syscall.Signal); ok {
			code = 128 + int(n)
		}
		os.Exit(code)
	case <-done:
	}
}

var reapOnce sync.Once

// reapLeftovers removes redistest containers started on this machine by
// test processes that no longer run (crashed, killed, timed out; see
// dbtest.Orphaned).
func reapLeftovers(ctx context.Context, cli client.APIClient) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelKey+"=1"),
	})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		if !dbtest.Orphaned(c.Labels) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
			fmt.Fprintf(os.Stderr, "redistest: removed leftover container %.12s of an exited test process\n", c.ID)
		}
	}
}
