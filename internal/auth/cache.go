package auth

import (
	"sync"
	"time"
)

// maxCachedTokens bounds the verified-token cache (about 200 bytes each).
const maxCachedTokens = 10_000

// tokenCache remembers the principals of verified tokens until their tokens
// expire (Auth.MaxTokenLifetime at most), so a client reusing its token does
// not pay a signature check per request. Keys are SHA-256 digests: the
// cache holds no token text.
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*Principal
}

func newTokenCache() *tokenCache { return &tokenCache{m: make(map[[32]byte]*Principal)} }

// get returns the principal of a verified token still valid at now.
func (c *tokenCache) get(key [32]byte, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	p, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !p.validAt(now) {
		return nil, false
	}
	return p, true
}

// drop forgets key's principal.
func (c *tokenCache) drop(key [32]byte) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// put remembers p; when full, expired entries go, and if that is not
// enough, everything does (a full cache of live tokens is a flood: better
// to verify again than to grow without bound).
func (c *tokenCache) put(key [32]byte, p *Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTokens {
		for k, q := range c.m {
			if !now.Before(q.notAfter) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedTokens {
			clear(c.m)
		}
	}
	c.m[key] = p
}
