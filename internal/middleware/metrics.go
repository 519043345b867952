package middleware

import "github.com/zeromicro/go-zero/core/metric"

// The access-control metrics (401s are counted here, never audited).
var (
	metricRefusals = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project",
		Subsystem: "auth",
		Name:      "refusals_total",
		Help:      "Requests refused before the logic: 401 by reason, 403 as insufficient_scope.",
		Labels:    []string{"reason"},
	})
	metricAuditWrites = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project",
		Subsystem: "audit",
		Name:      "rows_total",
		Help:      "Audit rows, by result: written, or failed (each failed row answered 503).",
		Labels:    []string{"result"},
	})
	metricAuditBatch = metric.NewHistogramVec(&metric.HistogramVecOpts{
		Namespace: "project",
		Subsystem: "audit",
		Name:      "batch_rows",
		Help:      "Rows per audit INSERT (concurrent requests share one: group commit).",
		Labels:    []string{},
		Buckets:   []float64{1, 2, 4, 8, 16, 32, 64},
	})
)
