package auth

import (
	"testing"
	"time"
)

// fill puts n live principals under keys tagged tag.
func fill(c *tokenCache, tag byte, n int, p *Principal, now time.Time) {
	for i := range n {
		c.put([32]byte{tag, byte(i), byte(i >> 8)}, p, now)
	}
}

// TestTokenCache_AFullCacheDropsExpiredTokensFirst: at the bound, the
// tokens that expired make room and every live one stays cached.
func TestTokenCache_AFullCacheDropsExpiredTokensFirst(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	live := &Principal{Subject: "live", notBefore: now.Add(-time.Minute), notAfter: now.Add(time.Minute)}
	expired := &Principal{Subject: "expired", notBefore: now.Add(-time.Hour), notAfter: now} // exp (+ leeway) is now
	fill(c, 1, maxCachedTokens-10, expired, now)
	fill(c, 2, 10, live, now) // full now
	if len(c.m) != maxCachedTokens {
		t.Fatalf("%d entries, want the cache full (%d)", len(c.m), maxCachedTokens)
	}
	c.put([32]byte{3}, live, now)
	if len(c.m) != 11 {
		t.Fatalf("after a put into a full cache: %d entries, want the 10 live ones and the new one", len(c.m))
	}
	for i := range 10 {
		if _, ok := c.get([32]byte{2, byte(i)}, now); !ok {
			t.Fatalf("live token %d was dropped to make room", i)
		}
	}
}

// TestTokenCache_AFullCacheOfLiveTokensStartsOver: a flood of live tokens
// empties the cache rather than growing it; below the bound nothing goes.
func TestTokenCache_AFullCacheOfLiveTokensStartsOver(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	live := &Principal{Subject: "live", notBefore: now.Add(-time.Minute), notAfter: now.Add(time.Minute)}
	fill(c, 1, maxCachedTokens-1, live, now)
	c.put([32]byte{2}, live, now)
	if len(c.m) != maxCachedTokens {
		t.Fatalf("%d entries after filling to the bound, want %d: nothing may go below it", len(c.m), maxCachedTokens)
	}
	c.put([32]byte{3}, live, now)
	if _, ok := c.get([32]byte{3}, now); len(c.m) != 1 || !ok {
		t.Fatalf("a put into a cache full of live tokens: %d entries, want only the new one", len(c.m))
	}
}

// TestTokenCache_DropForgetsOnlyItsToken: a revoked token's entry goes, the
// others stay.
func TestTokenCache_DropForgetsOnlyItsToken(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	live := &Principal{notBefore: now.Add(-time.Minute), notAfter: now.Add(time.Minute)}
	c.put([32]byte{1}, live, now)
	c.put([32]byte{2}, live, now)
	c.drop([32]byte{1})
	if _, ok := c.get([32]byte{1}, now); ok {
		t.Fatal("a dropped token is still served")
	}
	if _, ok := c.get([32]byte{2}, now); !ok {
		t.Fatal("dropping one token dropped another")
	}
}
