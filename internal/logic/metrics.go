package logic

import (
	"context"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/metric"

	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// The fan-out's own metrics, beside go-zero's HTTP ones: how long each read
// takes and how each fails, by model. They replace go-zero's sql_client_*
// metrics, which come with its statement log (disabled: it logs arguments).
var (
	metricReadDuration = metric.NewHistogramVec(&metric.HistogramVecOpts{
		Namespace: "project",
		Subsystem: "read",
		Name:      "duration_ms",
		Help:      "Duration of one of the fan-out's reads, by model (ms).",
		Labels:    []string{"model"},
		Buckets:   []float64{0.25, 0.5, 1, 2, 3, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000},
	})
	metricReadErrors = metric.NewCounterVec(&metric.CounterVecOpts{
		Namespace: "project",
		Subsystem: "read",
		Name:      "errors_total",
		Help:      "Failed reads of the fan-out, by model and error code.",
		Labels:    []string{"model", "code"},
	})
)

// observeRead records one read; a read slower than Mysql.SlowThreshold is
// logged with its model and duration only — never its arguments.
func observeRead(ctx context.Context, svcCtx *svc.ServiceContext, model string, d time.Duration, err error) {
	metricReadDuration.ObserveFloat(float64(d)/float64(time.Millisecond), model)
	if err != nil {
		metricReadErrors.Inc(model, string(errs.Classify(err).Code))
	}
	if d > svcCtx.Config.Mysql.SlowThreshold {
		logx.WithContext(ctx).WithDuration(d).Slowf("slow read: model=%s", model)
	}
}
