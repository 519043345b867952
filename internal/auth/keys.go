package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/time/rate"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// How the issuer's keys are fetched and kept.
const (
	// providerTimeout bounds each request to the identity provider.
	providerTimeout = 5 * time.Second
	// unknownKeyRefreshEvery: a token naming a key not held (a rotation)
	// makes the set be fetched again at once, then at most this often, so
	// tokens with made-up key ids cannot make the service hammer the issuer.
	unknownKeyRefreshEvery = 10 * time.Second
	// unknownKeyWaitMax bounds how long a request waits for such a refresh.
	unknownKeyWaitMax = 2 * time.Second
	// firstLoadRetryMax caps the backoff while the first load keeps failing.
	firstLoadRetryMax = 30 * time.Second
	maxDiscoveryBytes = 1 << 20
)

// keySource holds the issuer's signing keys. They are loaded in the
// background (discovery, then the key set) and retried until the first load
// succeeds; from then on jwkset fetches the set again every refresh (a key
// the issuer no longer publishes is dropped then; a failed refresh keeps
// the keys held).
type keySource struct {
	issuer  string
	jwksURL string // empty: found by discovery
	refresh time.Duration
	client  *http.Client
	kf      atomic.Pointer[keyfunc.Keyfunc]
	held    atomic.Pointer[jwkset.Storage] // the keys as last fetched
	loaded  chan struct{}
}

// startKeys begins loading the keys of c's issuer; cancel ctx to stop.
func startKeys(ctx context.Context, c config.AuthConf, client *http.Client) *keySource {
	ks := &keySource{issuer: c.Issuer, jwksURL: c.JwksURL, refresh: c.KeyRefresh, client: client, loaded: make(chan struct{})}
	go ks.load(ctx)
	return ks
}

// holds reports whether the key set, as last fetched, has the key kid. It
// never fetches: a key withdrawn by the issuer is gone after the next
// scheduled refresh.
func (ks *keySource) holds(ctx context.Context, kid string) bool {
	held := ks.held.Load()
	if held == nil {
		return false
	}
	_, err := (*held).KeyRead(ctx, kid)
	return err == nil
}

// keyfunc returns the jwt key function, or nil before the first load.
func (ks *keySource) keyfunc() keyfunc.Keyfunc {
	if kf := ks.kf.Load(); kf != nil {
		return *kf
	}
	return nil
}

func (ks *keySource) load(ctx context.Context) {
	backoff := time.Second
	for {
		kf, err := ks.loadOnce(ctx)
		if err == nil {
			ks.kf.Store(&kf)
			close(ks.loaded)
			logx.Infof("auth: signing keys of %s loaded", ks.issuer)
			return
		}
		if ctx.Err() != nil {
			return
		}
		logx.Errorf("auth: cannot load the signing keys of %s (retrying in %s; requests answer 503 until then): %v", ks.issuer, backoff, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, firstLoadRetryMax)
	}
}

func (ks *keySource) loadOnce(ctx context.Context) (keyfunc.Keyfunc, error) {
	jwksURL := ks.jwksURL
	if jwksURL == "" {
		var err error
		if jwksURL, err = discover(ctx, ks.client, ks.issuer); err != nil {
			return nil, err
		}
	}
	store, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client:          ks.client,
		Ctx:             ctx,
		HTTPTimeout:     providerTimeout,
		RefreshInterval: ks.refresh,
		RefreshErrorHandler: func(_ context.Context, err error) {
			logx.Errorf("auth: refreshing the signing keys from %s failed (the keys held are kept): %v", jwksURL, err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", jwksURL, err)
	}
	ks.held.Store(&store)
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURL: store},
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknownKeyRefreshEvery), 1),
		RateLimitWaitMax:  unknownKeyWaitMax,
	})
	if err != nil {
		return nil, err
	}
	// Keys meant for signatures only (or not saying: most providers omit "use").
	return keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: client, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
}

// discover reads the issuer's OpenID Connect discovery document and returns
// its jwks_uri, after checking that the document names the same issuer.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	where := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return "", err
	}
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: %s answered %s", where, res.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JwksURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, maxDiscoveryBytes)).Decode(&doc); err != nil {
		return "", fmt.Errorf("discovery: %s: %w", where, err)
	}
	switch {
	case doc.Issuer != issuer:
		return "", fmt.Errorf("discovery: %s names issuer %q, not %q", where, doc.Issuer, issuer)
	case doc.JwksURI == "":
		return "", errors.New("discovery: " + where + " has no jwks_uri")
	}
	if err := config.SecureKeysURL(doc.JwksURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri %w", err)
	}
	return doc.JwksURI, nil
}
