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
// It runs in its own container, built statically (CGO_ENABLED=0), and is an
// internal/testing/faultproxy proxy listening on an address of the caller's
// choosing (faultproxy.Start's loopback port is out of another container's
// reach). SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/faultproxy"
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
	proxy, err := faultproxy.Listen(listen, upstream)
	if err != nil {
		return err
	}
	defer proxy.Close()

	fmt.Printf("slowproxy: %s -> %s; SIGUSR1 adds %v to every reply\n", proxy.Addr(), upstream, latency)

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
			// Replace the latency toxic if an earlier signal added it.
			_ = proxy.RemoveToxic("latency")
			if err := proxy.Latency(latency); err != nil {
				return err
			}
			fmt.Printf("slowproxy: latency on: +%v on every reply\n", latency)
		}
	}
}
