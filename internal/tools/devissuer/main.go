// Command devissuer is a demo OpenID Connect provider for the compose file
// and the end-to-end test: internal/testing/oidctest's provider (zitadel/oidc)
// with two demo clients, serving HTTPS with a certificate from a CA it makes
// at start, so the service can use it as an https:// issuer. It writes the
// CA certificate where the service's container reads it (SSL_CERT_DIR) and
// prints a one-hour token and a curl line. Never for production.
//
//	devissuer -listen :9443 -issuer https://issuer:9443 -hosts issuer,localhost,127.0.0.1 -ca-out /run/issuer-ca/ca.pem
//
// Clients (client credentials grant; token endpoint <issuer>/oauth/token):
//
//	demo / demo-secret           project:read:all
//	site-aarhus / aarhus-secret  project:read, project_ids [1]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
)

func main() {
	listen := flag.String("listen", ":9443", "address to serve on")
	issuer := flag.String("issuer", "https://localhost:9443", "the issuer URL the service is configured with (AUTH_ISSUER)")
	hosts := flag.String("hosts", "localhost,127.0.0.1", "comma-separated names and addresses of the TLS certificate")
	caOut := flag.String("ca-out", "", "where to write the CA certificate (PEM) the service must trust")
	apiURL := flag.String("api", "http://localhost:8888", "the service's URL, for the printed curl line")
	healthcheck := flag.Bool("healthcheck", false, "exit 0 if the issuer on -listen answers discovery over TLS with the CA in -ca-out (for Docker HEALTHCHECK)")
	flag.Parse()
	if *healthcheck {
		if err := probe(*listen, *caOut); err != nil {
			fmt.Fprintln(os.Stderr, "devissuer: unhealthy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*listen, *issuer, strings.Split(*hosts, ","), *caOut, *apiURL); err != nil {
		fmt.Fprintln(os.Stderr, "devissuer:", err)
		os.Exit(1)
	}
}

// probe asks the local issuer for its discovery document, trusting only
// the CA it wrote: healthy means the service can reach and trust it.
func probe(listen, caOut string) error {
	pem, err := os.ReadFile(caOut)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no certificate", caOut)
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	client := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	res, err := client.Get("https://127.0.0.1:" + port + "/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery answered %s", res.Status)
	}
	return nil
}

func run(listen, issuer string, hosts []string, caOut, apiURL string) error {
	ca, cert, err := newCertificates(hosts)
	if err != nil {
		return err
	}
	if caOut != "" {
		if err := os.MkdirAll(filepath.Dir(caOut), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(caOut, ca.pem, 0o644); err != nil {
			return err
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	iss, err := oidctest.Serve(oidctest.Options{
		Addr: listen, URL: issuer, RootCAs: roots,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}, oidctest.DemoClients...)
	if err != nil {
		return err
	}
	defer iss.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	token, err := iss.Token(ctx, "demo", "demo-secret", "project:read:all")
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("devissuer: issuer %s (CA certificate: %s)\n", issuer, caOut)
	fmt.Printf("devissuer: clients demo/demo-secret (project:read:all), site-aarhus/aarhus-secret (project:read, project 1)\n")
	fmt.Printf("devissuer: a token for demo, valid for an hour:\n\n    curl -s -H \"Authorization: Bearer %s\" %s/project/1\n\n", token, apiURL)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}
