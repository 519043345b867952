package project

import (
	"context"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/metric"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// The fan-out's own metrics, beside go-zero's HTTP ones: how long each read
// takes and how each fails, by read (project, institutions, reports). They
// replace go-zero's sql_client_* metrics, which come with its statement log
// (disabled: it logs arguments).
var (
	metricReadDuration = metric.NewHistogramVec(&metric.HistogramVecOpts{
		Namespace: "project",
		Subsystem: "read",
		Name:      "duration_seconds",
		Help:      "Duration of one of the fan-out's reads, by read (seconds).",
		Labels:    []string{"read"},
		Buckets:   []float64{.00025, .0005, .001, .002, .003, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	metricReadErrors = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project",
		Subsystem: "read",
		Name:      "errors_total",
		Help:      "Failed reads of the fan-out, by read and error code.",
		Labels:    []string{"read", "code"},
	})
)

// observeRead records one read; a read slower than Mysql.SlowThreshold is
// logged with its name and duration only — never its arguments.
func observeRead(ctx context.Context, svcCtx *svc.ServiceContext, read string, d time.Duration, err error) {
	metricReadDuration.ObserveFloat(d.Seconds(), read)
	if err != nil {
		metricReadErrors.Inc(read, string(errs.Classify(err).Code))
	}
	if d > svcCtx.Config.Mysql.SlowThreshold {
		logx.WithContext(ctx).WithDuration(d).Slowf("slow read: %s", read)
	}
}
