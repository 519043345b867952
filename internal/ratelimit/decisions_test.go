package ratelimit

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	zeroprom "github.com/zeromicro/go-zero/core/prometheus"

	"github.com/clinicaldata/projectsvc/internal/config"
)

// go-zero's metrics count once prometheus is enabled, as the service
// does at start: from the first test on, so every limited client is seen.
func init() { zeroprom.Enable() }

// limiterOver is a limiter of rate per window with burst, one instance,
// over a throwaway Redis.
func limiterOver(t *testing.T, rate int, window time.Duration, burst int) (*Limiter, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	l, err := New(config.RedisConf{Addr: mr.Addr()},
		config.RateLimitConf{Rate: rate, Window: window, Burst: burst, Instances: 1, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, mr
}

// TestTake_TheCountersAreNamedByPolicyAndClient: the counters in the Redis
// others may share are projectsvc:rate:<quota>/<seconds>:<client>; a
// client id of up to 64 bytes is the key, a longer one is hashed.
func TestTake_TheCountersAreNamedByPolicyAndClient(t *testing.T) {
	l, mr := limiterOver(t, 300, time.Minute, 10) // 10 per 2 s
	ctx := context.Background()
	exact, long := strings.Repeat("c", 64), strings.Repeat("c", 65)
	for _, client := range []string{"dashboard", exact, long} {
		l.Take(ctx, client)
	}
	keys := mr.Keys()
	want := map[string]bool{"projectsvc:rate:10/2:dashboard": true, "projectsvc:rate:10/2:" + exact: true}
	hashed := 0
	for _, k := range keys {
		switch {
		case want[k]:
			delete(want, k)
		case strings.HasPrefix(k, "projectsvc:rate:10/2:sha256:") && len(k) == len("projectsvc:rate:10/2:sha256:")+32:
			hashed++
		default:
			t.Errorf("unexpected counter %q", k)
		}
	}
	if len(want) != 0 || hashed != 1 {
		t.Fatalf("counters %q: missing %v, %d hashed: want dashboard's, the 64-byte id's verbatim and the 65-byte one's hashed", keys, want, hashed)
	}
}

// loadingRedis is a Redis that answers every command with LOADING (an
// error go-redis would retry), counting the scripts it is asked to run.
func loadingRedis(t *testing.T) (addr string, commands *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	commands = &atomic.Int64{}
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if !strings.HasPrefix(line, "*") {
						continue
					}
					n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
					var args []string
					for range n { // each argument: $len, then its bytes
						if _, err := r.ReadString('\n'); err != nil {
							return
						}
						arg, err := r.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimSpace(arg))
					}
					if len(args) > 0 && strings.HasPrefix(strings.ToLower(args[0]), "eval") {
						commands.Add(1) // the decisions (the connection's HELLO is not one)
					}
					if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
						return
					}
				}
			})
		}
	}()
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	return ln.Addr().String(), commands
}

// TestTake_ARefusingRedisIsAskedOnceNeverRetried: a Redis answering an
// error decides nothing: the request is decided locally at once, after
// one command, never retried (a retry cannot fit in RateLimit.Timeout).
func TestTake_ARefusingRedisIsAskedOnceNeverRetried(t *testing.T) {
	addr, commands := loadingRedis(t)
	l, err := New(config.RedisConf{Addr: addr},
		config.RateLimitConf{Rate: 300, Window: time.Minute, Burst: 10, Instances: 1, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	d := l.Take(context.Background(), "site")
	if d.Shared || !d.Allowed {
		t.Fatalf("Redis loading: %+v, want a local decision, allowed", d)
	}
	if n := commands.Load(); n != 1 {
		t.Fatalf("%d script runs for one decision on a refusing Redis, want 1 (no retry)", n)
	}
}

// TestTake_LocallyTheResetIsWhenTheShareIsFullAgain: deciding locally,
// RateLimit's reset is the time the instance's share takes to refill.
func TestTake_LocallyTheResetIsWhenTheShareIsFullAgain(t *testing.T) {
	l, mr := limiterOver(t, 120, time.Minute, 4) // 2/s, 4 at once
	mr.Close()
	ctx := context.Background()
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second} {
		d := l.Take(ctx, "site")
		if d.Shared || !d.Allowed || d.Remaining != 3-i {
			t.Fatalf("request %d: %+v, want allowed locally, %d left", i+1, d, 3-i)
		}
		if d.Reset < want-300*time.Millisecond || d.Reset > want { // less what refilled meanwhile
			t.Fatalf("request %d: reset %s, want about %s (%d of 4 to refill at 2/s)", i+1, d.Reset, want, i+1)
		}
	}
	if d := l.Take(ctx, "site"); d.Allowed || d.Remaining != 0 || d.Reset < 1700*time.Millisecond || d.Reset > 2*time.Second {
		t.Fatalf("request 5: %+v, want refused, nothing left, reset about 2 s", d)
	}
}

// TestTake_TheLocalLimitersStartOverPastTenThousandClients: while Redis is
// away the instance keeps one limiter per client seen, at most 10,000;
// the next new client starts them all over.
func TestTake_TheLocalLimitersStartOverPastTenThousandClients(t *testing.T) {
	l, mr := limiterOver(t, 1, time.Hour, 1) // one request, then one an hour
	mr.Close()
	ctx := context.Background()
	l.Take(ctx, "spent")
	if l.Take(ctx, "spent").Allowed {
		t.Fatal("a spent share allowed a second request")
	}
	for i := range maxLocal - 1 {
		l.Take(ctx, "c"+strconv.Itoa(i))
	}
	if l.Take(ctx, "spent").Allowed {
		t.Fatalf("with %d clients kept (the bound), a spent share was renewed", maxLocal)
	}
	l.Take(ctx, "one-more")
	if d := l.Take(ctx, "spent"); !d.Allowed {
		t.Fatalf("past %d clients the limiters did not start over: %+v", maxLocal, d)
	}
}

// TestTake_TheLimitedMetricNamesTheFirstHundredClients: refusals are
// counted by client for the first 100 clients, as "other" after.
func TestTake_TheLimitedMetricNamesTheFirstHundredClients(t *testing.T) {
	l, _ := limiterOver(t, 60, time.Minute, 1)
	ctx := context.Background()
	for i := range 150 {
		client := "flood-" + strconv.Itoa(i)
		l.Take(ctx, client)
		if l.Take(ctx, client).Allowed {
			t.Fatalf("%s's second request allowed", client)
		}
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	named, other := 0, 0.0
	for _, f := range families {
		if f.GetName() != "project_rate_limited_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lbl := range m.GetLabel() {
				if lbl.GetName() != "client" {
					continue
				}
				if lbl.GetValue() == "other" {
					other = m.GetCounter().GetValue()
				} else {
					named++
				}
			}
		}
	}
	if named != maxClientLabels || other < 50 {
		t.Fatalf("%d clients named, %v refusals as other: want exactly %d named, the rest (at least 50) as other", named, other, maxClientLabels)
	}
}

func TestNew_ATLSRedisNeedsAHostAndPort(t *testing.T) {
	c := config.RateLimitConf{Rate: 1, Window: time.Minute, Burst: 1, Instances: 1, Timeout: 50 * time.Millisecond}
	if l, err := New(config.RedisConf{Addr: "redis.internal", TLS: true}, c); err == nil || l != nil || !strings.Contains(err.Error(), `Redis.Addr "redis.internal"`) {
		t.Fatalf("TLS to an address without a port: %v, %v: want the address refused", l, err)
	}
	l, err := New(config.RedisConf{Addr: "127.0.0.1:1", TLS: true}, c)
	if err != nil || l == nil {
		t.Fatalf("TLS to host:port: %v, %v", l, err)
	}
	l.Close()
}
