package store

import "github.com/zeromicro/go-zero/core/metric"

// The store's metrics: replicas in and out of rotation, where reads went,
// and the audit trail's writes.
var (
	metricReplicaHealthy = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "healthy",
		Help: "1 while the replica is in rotation, else 0.", Labels: []string{"replica"},
	})
	metricReplicaLag = metric.NewGaugeVec(&metric.GaugeVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "lag_seconds",
		Help: "How far the replica's data is behind the primary's (heartbeat).", Labels: []string{"replica"},
	})
	metricReplicaEjections = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "replica", Name: "ejections_total",
		Help: "Replicas taken out of rotation, by reason: down, lag, failed_read.", Labels: []string{"replica", "reason"},
	})
	metricPrimaryFallbacks = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "read", Name: "primary_fallbacks_total",
		Help: "Requests whose reads went to the primary although replicas are configured, by reason.", Labels: []string{"reason"},
	})
	metricReadRetries = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "read", Name: "retries_total",
		Help: "Requests whose reads were retried on another server after a replica failed them.", Labels: []string{"to"},
	})
	metricAuditRows = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project", Subsystem: "audit", Name: "rows_total",
		Help:   "Audit rows (and outcomes), by result: written, or failed (the answer they belong to was a 503).",
		Labels: []string{"result"},
	})
	metricAuditBatch = metric.NewHistogramVec(&metric.HistogramVecOpts{
		Namespace: "project", Subsystem: "audit", Name: "batch_rows",
		Help:    "Rows per audit write (concurrent answers share one: group commit).",
		Labels:  []string{},
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
	})
)
