// Package oidctest runs a real OpenID Provider for tests and for `make
// run`: zitadel/oidc's op package (an OpenID Certified implementation) on a
// loopback port, with the client credentials grant, JWT access tokens and a
// key set that can be rotated. Tokens come from its token endpoint, as a
// platform's would; tests that need a token the provider would never issue
// (expired, wrong audience, another key, alg "none", ...) sign one
// themselves with Sign and SignWith.
package oidctest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Audience is the audience the issuer puts in its access tokens (the
// service's default Auth.Audience).
const Audience = "project-api"

// Client is an OAuth client registered with the issuer. Its tokens carry
// the scopes it asks for among Scopes, and, with project:read, its
// ProjectIDs as the project_ids claim.
type Client struct {
	ID, Secret string
	// Subject is the tokens' sub (default: ID, as for a service account).
	Subject string
	// Scopes the client may be granted.
	Scopes []string
	// ProjectIDs go into the project_ids claim when project:read is granted.
	ProjectIDs []uint64
	// TokenLifetime of its access tokens (default 5 minutes).
	TokenLifetime time.Duration
}

// Issuer is a running OpenID Provider.
type Issuer struct {
	// URL is the issuer identifier (http://127.0.0.1:PORT unless Options
	// says otherwise): the discovery document is at URL +
	// "/.well-known/openid-configuration".
	URL string

	local  string // how this process reaches the issuer (its listener)
	client *http.Client
	store  *storage
	srv    *http.Server
	ln     net.Listener

	mu      sync.Mutex
	stopped bool
}

// Options say where and how an issuer serves.
type Options struct {
	// Addr to listen on (default 127.0.0.1:0, a free loopback port).
	Addr string
	// URL is the issuer identifier, when clients reach the issuer by
	// another name than its listener's (e.g. https://issuer:9443 in a
	// container network). Default: http(s)://<listener address>.
	URL string
	// TLS, when set, makes the issuer serve HTTPS with this configuration;
	// RootCAs is what this process trusts when it calls the issuer itself.
	TLS     *tls.Config
	RootCAs *x509.CertPool
}

// New starts an issuer with the given clients on a free loopback port.
func New(clients ...Client) (*Issuer, error) {
	return Serve(Options{}, clients...)
}

// Listen starts an issuer with the given clients on addr.
func Listen(addr string, clients ...Client) (*Issuer, error) {
	return Serve(Options{Addr: addr}, clients...)
}

// Serve starts an issuer as o says.
func Serve(o Options, clients ...Client) (*Issuer, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	scheme := "http://"
	if o.TLS != nil {
		scheme = "https://"
		ln = tls.NewListener(ln, o.TLS)
	}
	iss := &Issuer{URL: o.URL, local: scheme + reachable(ln.Addr().(*net.TCPAddr)), ln: ln,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: o.RootCAs}}}}
	if iss.URL == "" {
		iss.URL = iss.local
	}
	iss.store, err = newStorage(clients)
	if err != nil {
		ln.Close()
		return nil, err
	}
	provider, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("oidctest"))}, iss.store,
		op.StaticIssuer(iss.URL), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	iss.srv = &http.Server{Handler: provider, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = iss.srv.Serve(ln) }()
	return iss, nil
}

// reachable is how this process reaches a listener: its address, or
// 127.0.0.1 for one on every address (":9443" listens on "[::]:9443", a
// name no certificate carries).
func reachable(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return a.String()
}

// Start is New for a test: the issuer stops when t ends.
func Start(t testing.TB, clients ...Client) *Issuer {
	t.Helper()
	iss, err := New(clients...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Stop)
	return iss
}

// Stop shuts the issuer down (its port stops answering): "the identity
// provider is down". Safe to call more than once.
func (iss *Issuer) Stop() {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if iss.stopped {
		return
	}
	iss.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = iss.srv.Shutdown(ctx)
}

// Token gets an access token for a client from the issuer's token endpoint
// (client credentials grant), found through its discovery document — what
// a platform's backend does.
func (iss *Issuer) Token(ctx context.Context, clientID, secret string, scopes ...string) (string, error) {
	tokenURL, err := iss.tokenEndpoint(ctx)
	if err != nil {
		return "", err
	}
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: tokenURL, Scopes: scopes}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, iss.client))
	if err != nil {
		return "", fmt.Errorf("oidctest: token for %s: %w", clientID, err)
	}
	return tok.AccessToken, nil
}

// MustToken is Token for a test.
func (iss *Issuer) MustToken(t testing.TB, clientID, secret string, scopes ...string) string {
	t.Helper()
	tok, err := iss.Token(t.Context(), clientID, secret, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (iss *Issuer) tokenEndpoint(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss.local+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	res, err := iss.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("oidctest: discovery: %w", err)
	}
	defer res.Body.Close()
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", errors.New("oidctest: discovery document has no token_endpoint")
	}
	// The document names the endpoint under the issuer's URL; this process
	// reaches it through its listener.
	return iss.local + strings.TrimPrefix(doc.TokenEndpoint, iss.URL), nil
}

// DemoClients are the clients of the demo providers (`make run`, the
// compose file), with one-hour tokens:
//
//	demo / demo-secret           project:read:all
//	site-aarhus / aarhus-secret  project:read, project_ids [1]
var DemoClients = []Client{
	{ID: "demo", Secret: "demo-secret", Scopes: []string{"project:read:all"}, TokenLifetime: time.Hour},
	{ID: "site-aarhus", Secret: "aarhus-secret", Scopes: []string{"project:read"}, ProjectIDs: []uint64{1}, TokenLifetime: time.Hour},
}
