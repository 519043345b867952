package ratelimit

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/zeromicro/go-zero/core/logx"
	"golang.org/x/time/rate"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// windowScript is go-zero's PeriodLimit script (core/limit/periodscript.lua:
// INCRBY, and the window's expiry set on its first request) returning the
// count and the milliseconds left in the window instead of a verdict. A
// key that lost its expiry (it cannot, but a window must end) gets it back.
var windowScript = redis.NewScript(1, windowSource)

const windowSource = `local current = redis.call("INCRBY", KEYS[1], 1)
if current == 1 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {current, ttl}`

const (
	// keyPrefix names the service's counters in a Redis others may share.
	keyPrefix = "projectsvc:rate:"
	// lossAfter calls to Redis failing in a row switch the instance to
	// local limiting; a request whose call fails is decided locally, so a
	// single late answer (a busy host) costs its request only.
	lossAfter = 3
	// probeEvery: while Redis cannot be reached, it is pinged this often.
	probeEvery = time.Second
	// probeTimeout: a probe dials afresh, so it may take longer than a call.
	probeTimeout = 200 * time.Millisecond
	// maxLocal bounds the local limiters kept for the fallback (one per
	// client seen while Redis is away); past it they start over.
	maxLocal = 10_000
	// maxIdle connections to Redis are kept for the next requests.
	maxIdle = 64
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
	dial     func(context.Context) (redis.Conn, error)
	pool     atomic.Pointer[redis.Pool] // replaced on each loss of Redis
	timeout  time.Duration
	policies policies
	shared   atomic.Bool // Redis answers: decide there

	failures atomic.Int32 // calls to Redis failed in a row

	mu      sync.Mutex
	local   map[string]*rate.Limiter
	refused map[string]time.Time // clients over their shared quota, until their window ends

	stop    chan struct{}
	probing sync.WaitGroup
	probeMu sync.Mutex
	probeOn bool
}

// New is the limiter of c over the Redis at rc.Addr; nil when rc has no
// address (rate limiting off).
//
// The client is redigo, not go-zero's redis.Redis: go-zero's ignores a
// call's deadline on a server that accepts and never answers (3 s per
// read, 3 retries), so a silent Redis held every request for seconds, and
// it skips TLS verification; go-redis beneath it, configured to honour
// deadlines, costs 2.8 MB of binary for the three commands used here.
// Every call ends at RateLimit.Timeout, is never retried (a retry cannot
// fit in it: the local share decides instead), and TLS verifies the
// server against the system's roots.
func New(rc config.RedisConf, c config.RateLimitConf) (*Limiter, error) {
	if rc.Addr == "" {
		return nil, nil
	}
	opts := []redis.DialOption{
		redis.DialConnectTimeout(c.Timeout), redis.DialReadTimeout(c.Timeout), redis.DialWriteTimeout(c.Timeout),
		redis.DialUsername(rc.User), redis.DialPassword(rc.Pass),
	}
	if rc.TLS {
		host, _, err := net.SplitHostPort(rc.Addr)
		if err != nil {
			return nil, fmt.Errorf("Redis.Addr %q: %w", rc.Addr, err)
		}
		opts = append(opts, redis.DialUseTLS(true), redis.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}))
	}
	return newLimiter(func(ctx context.Context) (redis.Conn, error) {
		return redis.DialContext(ctx, "tcp", rc.Addr, opts...)
	}, c), nil
}

func newLimiter(dial func(context.Context) (redis.Conn, error), c config.RateLimitConf) *Limiter {
	l := &Limiter{dial: dial, timeout: c.Timeout, policies: newPolicies(c), local: map[string]*rate.Limiter{}, refused: map[string]time.Time{}, stop: make(chan struct{})}
	l.pool.Store(l.newPool())
	l.shared.Store(true)
	metricShared.Set(1)
	return l
}

// newPool is a pool of connections to Redis; each loss of Redis starts a
// new one, so no connection of a server that went away is tried again.
func (l *Limiter) newPool() *redis.Pool {
	return &redis.Pool{DialContext: l.dial, MaxIdle: maxIdle, IdleTimeout: 5 * time.Minute}
}

// do runs one command (the window script when script is set) on a pooled
// connection, within timeout: a new connection's dial is bounded by the
// context, the command by the connection's own deadlines (no goroutine
// per command, as redigo's DoContext would start).
func (l *Limiter) do(ctx context.Context, timeout time.Duration, script bool, cmd string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := l.pool.Load().GetContext(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	left := time.Until(deadline(ctx))
	if left <= 0 {
		return nil, context.DeadlineExceeded
	}
	if !script {
		return redis.DoWithTimeout(c, left, cmd, args...)
	}
	// EVALSHA, and EVAL when the server does not have the script (yet).
	res, err := redis.DoWithTimeout(c, left, "EVALSHA", append([]any{windowScript.Hash(), 1}, args...)...)
	if e, ok := err.(redis.Error); ok && strings.HasPrefix(string(e), "NOSCRIPT ") {
		res, err = redis.DoWithTimeout(c, max(time.Until(deadline(ctx)), time.Millisecond), "EVAL", append([]any{windowSource, 1}, args...)...)
	}
	return res, err
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
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
	if !l.shared.Load() {
		return l.takeLocal(client, p)
	}
	if d, ok := l.refusedShared(client, p); ok {
		return d
	}
	d, err := l.takeShared(ctx, client, p)
	switch {
	case err == nil:
		l.failures.Store(0)
		if !d.Allowed {
			l.refuseUntil(client, d.Reset)
		}
		return d
	case ctx.Err() == nil && l.failures.Add(1) >= lossAfter:
		l.lost(err)
	}
	return l.takeLocal(client, p) // this request, Redis having failed it
}

// refusedShared is the refusal Redis gave client for the rest of its
// window, without asking again: a client over its quota stays over until
// the window ends (fixed windows), so a flood's 429s cost no call to Redis.
func (l *Limiter) refusedShared(client string, p Policy) (Decision, bool) {
	l.mu.Lock()
	until, ok := l.refused[client]
	if ok && !time.Now().Before(until) {
		delete(l.refused, client)
		ok = false
	}
	l.mu.Unlock()
	if !ok {
		return Decision{}, false
	}
	return Decision{Policy: p, Reset: time.Until(until), Shared: true}, true
}

func (l *Limiter) refuseUntil(client string, reset time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.refused) >= maxLocal {
		clear(l.refused)
	}
	l.refused[client] = time.Now().Add(reset)
}

func (l *Limiter) takeShared(ctx context.Context, client string, p Policy) (Decision, error) {
	vals, err := redis.Int64s(l.do(ctx, l.timeout, true, "", key(p, client), strconv.FormatInt(p.Period.Milliseconds(), 10)))
	if err != nil {
		return Decision{}, err
	}
	if len(vals) != 2 {
		return Decision{}, errors.New("ratelimit: unexpected answer from the window script")
	}
	count, ttl := vals[0], vals[1]
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
	_ = l.pool.Swap(l.newPool()).Close() // connections in use close when put back
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
		if _, err := l.do(context.Background(), max(l.timeout, probeTimeout), false, "PING"); err != nil {
			continue
		}
		l.probeMu.Lock()
		l.probeOn = false
		l.probeMu.Unlock()
		l.failures.Store(0)
		l.mu.Lock()
		clear(l.refused) // decided while shared, before the outage
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

// Close stops probing Redis and closes its connections.
func (l *Limiter) Close() {
	close(l.stop)
	l.probing.Wait()
	_ = l.pool.Load().Close()
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
