// Package ratelimit is the per-client quota every instance shares: Rate
// requests per Window, at most Burst at once, for each client (the token's
// azp/client_id, else its sub). The counters live in Redis (go-zero's
// core/stores/redis), so two or ten instances share one quota; when Redis
// cannot be reached, each instance limits locally to its share (quota ÷
// RateLimit.Instances) and shares again once Redis answers.
//
// Why not go-zero's core/limit as it is: TokenLimiter keys one bucket per
// limiter (a limiter per client), counts time in whole seconds of the
// host's clock (instances disagree), takes integer rates per second only,
// refuses every request when Redis is slow (a context error denies), and
// swallows Redis' errors into its own in-process rescue at the full quota
// per instance. PeriodLimit keys per client and lets Redis expire its
// windows (no host clock), but answers only allowed or not: the RateLimit
// headers need what is left and when the window resets, and it has no
// fallback. So the quota here is PeriodLimit's algorithm — a fixed window
// counted by INCR, expired by Redis — in one script that also returns the
// count and the window's remaining time (one round trip), with the
// fallback and the headers around it; a test keeps its decisions equal to
// PeriodLimit's.
package ratelimit

import (
	"math"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// Policy is one quota as it is enforced: Quota requests per Period (whole
// seconds), in fixed windows counted in Redis. A rate of R per W with a
// burst of B becomes B requests per B/(R/W) — the same sustained rate, and
// never more than B at once within a window (up to 2×B across the boundary
// of two windows, the price of fixed windows). A period under a second is
// rounded up to one, with the quota scaled to it: bursts are not finer
// than a second.
type Policy struct {
	Name   string // "default", or the client's name for an override
	Quota  int
	Period time.Duration
	// local is the instance's share while Redis cannot be reached.
	local rate.Limit
	burst int
}

// newPolicy is the policy of r per w with burst b, shared by instances.
func newPolicy(name string, r int, w time.Duration, b, instances int) Policy {
	perSecond := float64(r) / w.Seconds()
	period := math.Ceil(float64(b) / perSecond)
	quota := b
	if period < 1 {
		period = 1
	}
	if float64(b) < perSecond*period {
		quota = int(math.Round(perSecond * period))
	}
	return Policy{
		Name:   name,
		Quota:  quota,
		Period: time.Duration(period) * time.Second,
		local:  rate.Limit(perSecond / float64(instances)),
		burst:  max(1, quota/instances),
	}
}

// policies are the default policy and the per-client overrides.
type policies struct {
	fallback Policy
	clients  map[string]Policy
}

func newPolicies(c config.RateLimitConf) policies {
	p := policies{fallback: newPolicy("default", c.Rate, c.Window, c.Burst, c.Instances), clients: map[string]Policy{}}
	for name, o := range c.Clients {
		p.clients[name] = newPolicy(name, o.Rate, o.Window, o.Burst, c.Instances)
	}
	return p
}

func (p policies) of(client string) Policy {
	if o, ok := p.clients[client]; ok {
		return o
	}
	return p.fallback
}

// Header is the policy as draft-ietf-httpapi-ratelimit-headers writes it in
// RateLimit-Policy: "name";q=<quota>;w=<seconds>.
func (p Policy) Header() string {
	return strconv.Quote(p.Name) + ";q=" + strconv.Itoa(p.Quota) + ";w=" + strconv.Itoa(int(p.Period/time.Second))
}
