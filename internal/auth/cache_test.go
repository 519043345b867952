package auth

import (
	"testing"
	"time"
)

func TestTokenCache_OnlyWithinTheTokensValidityAndBounded(t *testing.T) {
	c := newTokenCache()
	now := time.Now()
	live := &Principal{Subject: "live", notBefore: now.Add(-time.Minute), notAfter: now.Add(time.Minute)}
	c.put([32]byte{1}, live, now)
	if p, ok := c.get([32]byte{1}, now); !ok || p != live {
		t.Fatal("a live token's principal is not served from the cache")
	}
	if _, ok := c.get([32]byte{1}, now.Add(2*time.Minute)); ok {
		t.Fatal("served after the token's exp (+ leeway)")
	}
	if _, ok := c.get([32]byte{1}, now.Add(-2*time.Minute)); ok {
		t.Fatal("served before the token's nbf (- leeway)")
	}
	for i := range maxCachedTokens + 10 {
		c.put([32]byte{2, byte(i), byte(i >> 8)}, live, now)
	}
	if n := len(c.m); n > maxCachedTokens {
		t.Fatalf("%d entries, bound is %d", n, maxCachedTokens)
	}
}
