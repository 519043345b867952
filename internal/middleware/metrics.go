package middleware

import "github.com/zeromicro/go-zero/core/metric"

// metricRefusals counts requests refused before the logic (401s are
// counted here, never audited).
var metricRefusals = metric.NewCounterVec(&metric.CounterVecOpts{
	Namespace: "project",
	Subsystem: "auth",
	Name:      "refusals_total",
	Help:      "Requests refused before the logic: 401 by reason, 403 as insufficient_scope.",
	Labels:    []string{"reason"},
})
