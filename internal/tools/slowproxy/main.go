// Command slowproxy is a TCP proxy that can make a database slow, for the
// end-to-end test (.ci/e2e.sh): it forwards -listen to -upstream, at full
// speed until it receives SIGUSR1; from then on every chunk the upstream
// sends back is delayed by -latency (a toxiproxy "latency" toxic on the
// downstream stream, applied to open connections too), so each query on an
// already open connection answers -latency later.
//
//	slowproxy -listen 0.0.0.0:3306 -upstream db:3306 -latency 3s
//	docker kill --signal USR1 <container>   # slow from now on
//
// Why a switch rather than latency from the start: opening a MySQL
// connection takes several round trips, each of which would be delayed, so
// the test warms the service's pool first and only then slows the replies.
//
// It runs in its own container, built statically (CGO_ENABLED=0). It is
// internal/testing/faultproxy's toxiproxy, except that it listens on an address of
// the caller's choosing: faultproxy binds a loopback port, which another
// container cannot reach. SIGTERM or SIGINT stops it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func main() {
	listen := flag.String("listen", "0.0.0.0:3306", "address to listen on")
	upstream := flag.String("upstream", "", "address to forward to (host:port)")
	latency := flag.Duration("latency", 3*time.Second, "delay added, after SIGUSR1, to every chunk the upstream sends back")
	flag.Parse()
	if *upstream == "" {
		fmt.Fprintln(os.Stderr, "slowproxy: -upstream is required")
		os.Exit(2)
	}
	if err := run(*listen, *upstream, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "slowproxy:", err)
		os.Exit(1)
	}
}

func run(listen, upstream string, latency time.Duration) error {
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxy := toxiproxy.NewProxy(server, "slow", listen, upstream)
	if err := proxy.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer proxy.Stop()

	fmt.Printf("slowproxy: %s -> %s; SIGUSR1 adds %v to every reply\n", proxy.Listen, upstream, latency)

	slow := make(chan os.Signal, 1)
	signal.Notify(slow, syscall.SIGUSR1)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("slowproxy: stopping")
			return nil
		case <-slow:
			if err := addLatency(proxy, latency); err != nil {
				return err
			}
			fmt.Printf("slowproxy: latency on: +%v on every reply\n", latency)
		}
	}
}

// addLatency adds (or, if present, replaces) the latency toxic.
func addLatency(proxy *toxiproxy.Proxy, latency time.Duration) error {
	_ = proxy.Toxics.RemoveToxic(context.Background(), "latency")
	toxic, err := json.Marshal(map[string]any{
		"name": "latency", "type": "latency", "stream": "downstream", "toxicity": 1.0,
		"attributes": map[string]any{"latency": latency.Milliseconds()},
	})
	if err != nil {
		return err
	}
	if _, err := proxy.Toxics.AddToxicJson(bytes.NewReader(toxic)); err != nil {
		return fmt.Errorf("add latency toxic: %w", err)
	}
	return nil
}
