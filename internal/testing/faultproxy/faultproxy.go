// Package faultproxy puts an in-process toxiproxy (github.com/Shopify/toxiproxy)
// between the service and its database, so tests can inject network faults:
// latency, resets, bandwidth limits, slow closes, and outages. It is the
// project's one toxiproxy wrapper: internal/tools/slowproxy uses it too.
package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

var seq atomic.Int64

// Proxy is a TCP proxy in front of one upstream address.
type Proxy struct {
	proxy *toxiproxy.Proxy
}

// Start listens on a free loopback port and forwards to upstream (host:port).
func Start(upstream string) (*Proxy, error) {
	return Listen("127.0.0.1:0", upstream)
}

// Listen listens on listen (host:port; port 0 picks a free one) and forwards
// to upstream (host:port).
func Listen(listen, upstream string) (*Proxy, error) {
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, fmt.Sprintf("db-%d", seq.Add(1)), listen, upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("faultproxy: start: %w", err)
	}
	return &Proxy{proxy: p}, nil
}

// Addr is the proxy's listen address (host:port) to dial instead of upstream.
func (p *Proxy) Addr() string { return p.proxy.Listen }

// Close removes the toxics (so their pipes drain), stops the proxy and
// drops its connections.
func (p *Proxy) Close() {
	p.Reset()
	p.proxy.Stop()
}

// Cut drops every connection and refuses new ones: the database is gone.
func (p *Proxy) Cut() { p.proxy.Stop() }

// Restore accepts connections again on the same address.
func (p *Proxy) Restore() error { return p.proxy.Start() }

// AddToxic adds a toxic of the given type on stream ("upstream" is towards
// the database, "downstream" back to the service); attributes are the
// toxic's own (see toxiproxy's README).
func (p *Proxy) AddToxic(name, typ, stream string, attributes map[string]any) error {
	body, err := json.Marshal(map[string]any{
		"name": name, "type": typ, "stream": stream, "toxicity": 1.0, "attributes": attributes,
	})
	if err != nil {
		return err
	}
	if _, err := p.proxy.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("faultproxy: add %s toxic: %w", typ, err)
	}
	return nil
}

// Latency delays every chunk the database sends back by d: each query's
// answer arrives at least d later. The toxic is named "latency".
func (p *Proxy) Latency(d time.Duration) error {
	return p.AddToxic("latency", "latency", "downstream", map[string]any{"latency": d.Milliseconds()})
}

// RemoveToxic removes one toxic by name.
func (p *Proxy) RemoveToxic(name string) error {
	return p.proxy.Toxics.RemoveToxic(context.Background(), name)
}

// Reset removes every toxic.
func (p *Proxy) Reset() { p.proxy.Toxics.ResetToxics(context.Background()) }

// DSN is the go-sql-driver DSN dsn with its address replaced by the
// proxy's, so a pool opened on it goes through the proxy. It panics on a
// DSN the driver cannot parse (the caller's DSNs come from dbtest).
func (p *Proxy) DSN(dsn string) string {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		panic("faultproxy: " + err.Error())
	}
	cfg.Addr = p.Addr()
	return cfg.FormatDSN()
}
