// Removing clusters on SIGINT/SIGTERM, and those left behind by test
// processes that are gone.

package replicatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
)

// live are the clusters not yet closed. While there are any, SIGINT and
// SIGTERM remove them and exit 128+signal (as dbtest.Main does for its
// server); t.Cleanup would never run.
var live struct {
	mu       sync.Mutex
	clusters map[*Cluster]struct{}
	sigc     chan os.Signal
	done     chan struct{}
}

func register(c *Cluster) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if len(live.clusters) == 0 {
		live.clusters = map[*Cluster]struct{}{}
		live.sigc = make(chan os.Signal, 1)
		live.done = make(chan struct{})
		signal.Notify(live.sigc, os.Interrupt, syscall.SIGTERM)
		go watchSignals(live.sigc, live.done)
	}
	live.clusters[c] = struct{}{}
}

func unregister(c *Cluster) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if _, ok := live.clusters[c]; !ok {
		return
	}
	delete(live.clusters, c)
	if len(live.clusters) == 0 {
		signal.Stop(live.sigc)
		close(live.done)
	}
}

func watchSignals(sigc <-chan os.Signal, done <-chan struct{}) {
	select {
	case sig := <-sigc:
		fmt.Fprintf(os.Stderr, "replicatest: %v: removing the clusters' containers and networks\n", sig)
		live.mu.Lock()
		var clusters []*Cluster
		for c := range live.clusters {
			clusters = append(clusters, c)
		}
		live.mu.Unlock()
		// A cluster still starting may have containers it does not know
		// of yet: those are removed as leftovers by the next run (below).
		var wg sync.WaitGroup
		for _, c := range clusters {
			wg.Go(func() {
				if err := c.close(); err != nil {
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

// removeContainers force-removes the containers with the label filter
// (key or key=value).
func removeContainers(ctx context.Context, cli client.APIClient, label string) error {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var errs []error
	for _, c := range res.Items {
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

var reapOnce sync.Once

// reapLeftovers removes the containers, then the networks, of clusters
// started on this machine by test processes that no longer run (see
// dbtest.Orphaned). dbtest's own reaper would get the containers too, but
// only after this process has created its network.
func reapLeftovers(ctx context.Context, cli client.APIClient) {
	filter := make(client.Filters).Add("label", labelCluster)
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return
	}
	for _, c := range ctrs.Items {
		if !dbtest.Orphaned(c.Labels) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err == nil {
			fmt.Fprintf(os.Stderr, "replicatest: removed leftover container %.12s of cluster %s\n", c.ID, c.Labels[labelCluster])
		}
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return
	}
	for _, n := range nets.Items {
		if !dbtest.Orphaned(n.Labels) {
			continue
		}
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err == nil {
			fmt.Fprintf(os.Stderr, "replicatest: removed leftover network %s of cluster %s\n", n.Name, n.Labels[labelCluster])
		}
	}
}
