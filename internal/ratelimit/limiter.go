package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/stores/redis"
	"golang.org/x/time/rate"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// windowScript is go-zero's PeriodLimit script (core/limit/periodscript.lua:
// INCRBY, and the window's expiry set on its first request) returning the
// count and the milliseconds left in the window instead of a verdict. A
// key that lost its expiry (it cannot, but a window must end) gets it back.
var windowScript = redis.NewScript(`local current = redis.call("INCRBY", KEYS[1], 1)
if current == 1 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {current, ttl}`)

const (
	// keyPrefix names the service's counters in a Redis others may share.
	keyPrefix = "projectsvc:rate:"
	// probeEvery: while Redis cannot be reached, it is pinged this often.
	probeEvery = time.Second
	// maxLocal bounds the local limiters kept for the fallback (one per
	// client seen while Redis is away); past it they start over.
	maxLocal = 10_000
)

// Decision is whether one request may go on, and what the RateLimit
// headers say about the client's quota.
type Decision struct {
	Allowed bool
	Policy  Policy
	// Remaining is what is left of the quota in this window; Reset when
	// the window ends (the Retry-After of a refusal).
	Remaining int
	Reset     time.Duration
	// Shared: decided on the counters every instance shares (Redis), not
	// on this instance's local share.
	Shared bool
}

// Limiter decides per client, in Redis while it answers, locally otherwise.
type Limiter struct {
	redis    *redis.Redis
	timeout  time.Duration
	policies policies
	shared   atomic.Bool // Redis answers: decide there

	mu    sync.Mutex
	local map[string]*rate.Limiter

	stop    chan struct{}
	probing sync.WaitGroup
	probeMu sync.Mutex
	probeOn bool
}

// New is the limiter of c over the Redis at rc.Addr; nil when rc has no
// address (rate limiting off).
func New(rc config.RedisConf, c config.RateLimitConf) (*Limiter, error) {
	if rc.Addr == "" {
		return nil, nil
	}
	rds, err := redis.NewRedis(redis.RedisConf{Host: rc.Addr, Type: redis.NodeType, User: rc.User, Pass: rc.Pass, Tls: rc.TLS,
		NonBlock: true, Protocol: 2, MaintNotifications: "disabled", PingTimeout: time.Second})
	if err != nil {
		return nil, err
	}
	return newLimiter(rds, c), nil
}

func newLimiter(rds *redis.Redis, c config.RateLimitConf) *Limiter {
	l := &Limiter{redis: rds, timeout: c.Timeout, policies: newPolicies(c), local: map[string]*rate.Limiter{}, stop: make(chan struct{})}
	l.shared.Store(true)
	metricShared.Set(1)
	return l
}

// Take counts one request of client and decides it. It never fails: a
// Redis that does not answer within RateLimit.Timeout is one that cannot
// be reached, and the instance decides on its local share.
func (l *Limiter) Take(ctx context.Context, client string) Decision {
	d := l.take(ctx, client)
	where, result := "local", "allowed"
	if d.Shared {
		where = "shared"
	}
	if !d.Allowed {
		result = "limited"
		metricLimited.Inc(clientLabel(client))
	}
	metricDecisions.Inc(where, result)
	return d
}

func (l *Limiter) take(ctx context.Context, client string) Decision {
	p := l.policies.of(client)
	if l.shared.Load() {
		if d, err := l.takeShared(ctx, client, p); err == nil {
			return d
		} else if ctx.Err() == nil {
			l.lost(err)
		}
	}
	return l.takeLocal(client, p)
}

func (l *Limiter) takeShared(ctx context.Context, client string, p Policy) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	res, err := l.redis.ScriptRunCtx(ctx, windowScript, []string{key(p, client)}, strconv.FormatInt(p.Period.Milliseconds(), 10))
	if err != nil {
		return Decision{}, err
	}
	vals, ok := res.([]any)
	if !ok || len(vals) != 2 {
		return Decision{}, errors.New("ratelimit: unexpected answer from the window script")
	}
	count, ok1 := vals[0].(int64)
	ttl, ok2 := vals[1].(int64)
	if !ok1 || !ok2 {
		return Decision{}, errors.New("ratelimit: unexpected answer from the window script")
	}
	return Decision{
		Allowed:   count <= int64(p.Quota),
		Policy:    p,
		Remaining: max(0, p.Quota-int(count)),
		Reset:     time.Duration(ttl) * time.Millisecond,
		Shared:    true,
	}, nil
}

// takeLocal decides on this instance's share of the quota.
func (l *Limiter) takeLocal(client string, p Policy) Decision {
	l.mu.Lock()
	lim, ok := l.local[client]
	if !ok {
		if len(l.local) >= maxLocal {
			clear(l.local)
		}
		lim = rate.NewLimiter(p.local, p.burst)
		l.local[client] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	allowed := lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	reset := time.Duration(0)
	if tokens < float64(p.burst) {
		reset = time.Duration((float64(p.burst) - tokens) / float64(p.local) * float64(time.Second))
	}
	return Decision{Allowed: allowed, Policy: p, Remaining: max(0, int(tokens)), Reset: reset}
}

// lost switches to the local limiters after a failed call to Redis, and
// starts probing it; one log line and a metric per transition.
func (l *Limiter) lost(err error) {
	if !l.shared.CompareAndSwap(true, false) {
		return
	}
	metricShared.Set(0)
	metricTransitions.Inc("local")
	logx.Errorf("rate limit: Redis cannot be reached (%v); limiting locally, each instance to its share of every quota, until it answers", err)
	l.probeMu.Lock()
	defer l.probeMu.Unlock()
	if l.probeOn {
		return
	}
	l.probeOn = true
	l.probing.Add(1)
	go l.probe()
}

// probe pings Redis until it answers, then shares again.
func (l *Limiter) probe() {
	defer l.probing.Done()
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(l.timeout, 200*time.Millisecond))
		ok := l.redis.PingCtx(ctx)
		cancel()
		if !ok {
			continue
		}
		l.probeMu.Lock()
		l.probeOn = false
		l.probeMu.Unlock()
		l.mu.Lock()
		clear(l.local) // the next outage starts from full shares
		l.mu.Unlock()
		l.shared.Store(true)
		metricShared.Set(1)
		metricTransitions.Inc("shared")
		logx.Info("rate limit: Redis answers again; quotas are shared by every instance again")
		return
	}
}

// Shared reports whether the limiter decides on Redis' counters now.
func (l *Limiter) Shared() bool { return l.shared.Load() }

// Close stops probing Redis.
func (l *Limiter) Close() {
	close(l.stop)
	l.probing.Wait()
}

// key is a client's counter under policy p: the policy's quota and period
// are in it, so a changed configuration starts new windows. A long client
// id is hashed (a key stays short whatever a token says).
func key(p Policy, client string) string {
	if len(client) > 64 {
		sum := sha256.Sum256([]byte(client))
		client = "sha256:" + hex.EncodeToString(sum[:16])
	}
	return keyPrefix + strconv.Itoa(p.Quota) + "/" + strconv.Itoa(int(p.Period/time.Second)) + ":" + client
}
