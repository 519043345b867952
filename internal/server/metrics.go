package server

import "github.com/zeromicro/go-zero/core/metric"

// metricUnaudited counts answers refused before authentication, which
// leave no audit row: go-zero's own refusals (load shedding, the connection
// cap, the breaker: unavailable; its panic recovery: internal) and requests
// whose header is too large.
var metricUnaudited = metric.NewCounterVec(&metric.CounterVecOpts{
	Namespace: "project",
	Subsystem: "http",
	Name:      "refused_before_auth_total",
	Help:      "Answers refused before authentication (no audit row), by error code.",
	Labels:    []string{"code"},
})
