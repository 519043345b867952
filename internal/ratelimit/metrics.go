package ratelimit

import (
	"sync"

	"github.com/zeromicro/go-zero/core/metric"
)

// The rate limit's metrics. The client label is bounded: the first
// maxClientLabels clients seen get their own, every later one counts as
// "other".
var (
	metricLimited = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "rate", Name: "limited_total",
		Help: "Requests refused with 429, by client (the first 100 clients seen by name, then other).", Labels: []string{"client"},
	})
	metricDecisions = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "rate", Name: "decisions_total",
		Help: "Rate-limit decisions, by where they were made (shared: Redis; local: this instance's share) and result.", Labels: []string{"where", "result"},
	})
	metricShared = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "project", Subsystem: "rate", Name: "shared",
		Help: "1 while quotas are decided in Redis (shared by every instance), 0 while this instance limits locally.", Labels: []string{},
	})
	metricTransitions = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "rate", Name: "transitions_total",
		Help: "Switches between shared (Redis) and local limiting, by the mode switched to.", Labels: []string{"to"},
	})
)

const maxClientLabels = 100

var clientLabels = struct {
	sync.Mutex
	seen map[string]bool
}{seen: map[string]bool{}}

// clientLabel is client's label value: itself for the first
// maxClientLabels clients, else "other".
func clientLabel(client string) string {
	clientLabels.Lock()
	defer clientLabels.Unlock()
	if clientLabels.seen[client] {
		return client
	}
	if len(clientLabels.seen) < maxClientLabels {
		clientLabels.seen[client] = true
		return client
	}
	return "other"
}
