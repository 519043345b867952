// Package project holds the logic of the project resource: the concurrent
// fan-out of the three reads that make up a project record.
package project

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/trace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/internal/types"
	"github.com/clinicaldata/projectsvc/model"
)

// The bounds of the reports query parameter (its default, 10, is in project.api).
const (
	MinReports = 1
	MaxReports = 100
)

// GetProjectDetailsLogic answers GET /project/:id.
type GetProjectDetailsLogic struct {
	logx.Logger
	ctx    context.Context
	svcCtx *svc.ServiceContext
}

// NewGetProjectDetailsLogic returns the logic of one request.
func NewGetProjectDetailsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *GetProjectDetailsLogic {
	return &GetProjectDetailsLogic{
		Logger: logx.WithContext(ctx),
		ctx:    ctx,
		svcCtx: svcCtx,
	}
}

// GetProjectDetails validates the request, then loads the project, its
// institutions and its latest reports.
func (l *GetProjectDetailsLogic) GetProjectDetails(req *types.ProjectDetailsReq) (*types.ProjectDetailsResp, error) {
	if req.Id < 1 {
		return nil, errs.Newf(errs.InvalidArgument, "id must be a positive integer, got %d", req.Id)
	}
	if req.Reports < MinReports || req.Reports > MaxReports {
		return nil, errs.Newf(errs.InvalidArgument, "reports must be between %d and %d, got %d", MinReports, MaxReports, req.Reports)
	}
	id, reports := uint64(req.Id), int(req.Reports)
	caller := auth.From(l.ctx)
	if caller == nil {
		return nil, errs.New(errs.Internal, "", errors.New("no caller on the request: the Auth middleware did not run"))
	}
	if !caller.CanRead(id) {
		// Exactly the answer a missing project gets: no existence oracle.
		return nil, notFound(id)
	}
	if l.svcCtx.Flights == nil {
		return loadProjectDetails(l.ctx, l.svcCtx, id, reports)
	}
	return coalesced(l.ctx, l.svcCtx, id, reports)
}

// coalesced joins an identical load already in flight instead of issuing
// its own (go-zero's SingleFlight): a hot project costs the database one
// fan-out per round trip, not one per client. A result is never older than
// a load that was already running when the request arrived; nothing is
// cached after the load ends. If the load this request joined was cut short
// by its leader's cancellation or deadline while this request still has
// time, this request loads again rather than inherit someone else's failure.
func coalesced(ctx context.Context, svcCtx *svc.ServiceContext, id uint64, reports int) (*types.ProjectDetailsResp, error) {
	key := strconv.FormatUint(id, 10) + "/" + strconv.Itoa(reports)
	for {
		v, err := svcCtx.Flights.Do(key, func() (any, error) {
			return loadProjectDetails(ctx, svcCtx, id, reports)
		})
		if err == nil {
			return v.(*types.ProjectDetailsResp), nil
		}
		if ctx.Err() == nil && isContextError(err) {
			continue // the leader gave up; this request has not
		}
		return nil, err
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// loadProjectDetails reads the record from one server (a healthy replica,
// else the primary). If a replica fails it in a way its going away
// explains — unreachable, reset, or silent past its share of the deadline —
// the reads are idempotent: they run once more, on another server, within
// what is left of the request's deadline. A replica gets at most half of
// the time left, so a silent one leaves time for the retry.
func loadProjectDetails(ctx context.Context, svcCtx *svc.ServiceContext, id uint64, limit int) (*types.ProjectDetailsResp, error) {
	reads := svcCtx.PickReads()
	if !reads.IsReplica() {
		return fanOutOn(ctx, svcCtx, reads, id, limit)
	}
	actx, cancel := halfOfDeadline(ctx)
	resp, err := fanOutOn(actx, svcCtx, reads, id, limit)
	cancel()
	if err == nil || ctx.Err() != nil || !replicaGone(err) {
		return resp, err
	}
	logx.WithContext(ctx).Infof("reads on %s failed (%v); retrying on another server", reads.Name, errs.Classify(err).Code)
	return fanOutOn(ctx, svcCtx, svcCtx.RetryReads(reads), id, limit)
}

// halfOfDeadline is ctx with at most half of its remaining time.
func halfOfDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(deadline)/2)
}

// replicaGone: a failure a replica going away explains (retrying elsewhere
// may succeed), as opposed to an answer (not found) or a bug.
func replicaGone(err error) bool {
	switch errs.Classify(err).Code {
	case errs.Unavailable, errs.Timeout:
		return true
	}
	return false
}

// fanOutOn issues the three reads concurrently over reads' pool. The first
// failure cancels the reads still running; the record is assembled only
// when all three succeeded, so it is never partial.
func fanOutOn(ctx context.Context, svcCtx *svc.ServiceContext, reads *svc.Reads, id uint64, limit int) (*types.ProjectDetailsResp, error) {
	g, gctx := errgroup.WithContext(ctx)
	l := &fanOut{ctx: gctx, svcCtx: svcCtx, reads: reads, id: id, limit: limit}
	g.Go(l.readProject)
	g.Go(l.readInstitutions)
	g.Go(l.readReports)
	if err := g.Wait(); err != nil {
		return nil, errs.Classify(err)
	}
	return toResponse(l.project, l.institutions, l.reports), nil
}

// fanOut is one record's three reads and their results.
type fanOut struct {
	ctx    context.Context
	svcCtx *svc.ServiceContext
	reads  *svc.Reads
	id     uint64
	limit  int

	project      *model.Project
	institutions []*model.ProjectInstitutionDetail
	reports      []*model.ProjectReport
}

func (l *fanOut) readProject() error {
	return read(l.ctx, l.svcCtx, &projectRead, func(ctx context.Context) (err error) {
		l.project, err = findProject(ctx, l.reads, l.id)
		return err
	})
}

func (l *fanOut) readInstitutions() error {
	return read(l.ctx, l.svcCtx, &institutionsRead, func(ctx context.Context) (err error) {
		l.institutions, err = l.reads.ProjectInstitutionModel.FindAllByProjectID(ctx, l.id)
		return err
	})
}

func (l *fanOut) readReports() error {
	return read(l.ctx, l.svcCtx, &reportsRead, func(ctx context.Context) (err error) {
		l.reports, err = l.reads.ProjectReportModel.FindLatestByProjectID(ctx, l.id, l.limit)
		return err
	})
}

// findProject reads the project row; a missing project is NotFound (404),
// never a nil record.
func findProject(ctx context.Context, reads *svc.Reads, id uint64) (*model.Project, error) {
	project, err := reads.ProjectModel.FindOne(ctx, id)
	if errors.Is(err, model.ErrNotFound) || (err == nil && project == nil) {
		return nil, notFound(id)
	}
	return project, err
}

// notFound is the answer for a project that does not exist or that the
// caller may not read: the two are indistinguishable to the caller.
func notFound(id uint64) error {
	return errs.Newf(errs.NotFound, "project %d does not exist", id)
}

// readName names one of the fan-out's reads (after the part of the record
// it reads) in spans, metrics and logs; its span options are built once.
type readName struct {
	name     string
	span     string
	spanOpts []oteltrace.SpanStartOption
}

func newReadName(name string) readName {
	return readName{name: name, span: "read " + name,
		spanOpts: []oteltrace.SpanStartOption{oteltrace.WithAttributes(attribute.String("project.read", name))}}
}

var (
	projectRead      = newReadName("project")
	institutionsRead = newReadName("institutions")
	reportsRead      = newReadName("reports")
)

// read runs one of the fan-out's reads: it turns a panic into an Internal
// error (errgroup does not recover, and the rest server's recover
// middleware only guards the handler's own goroutine), records the read's
// duration, and traces it as a child span of the request ("read <name>";
// the sql spans nest under it).
func read(ctx context.Context, svcCtx *svc.ServiceContext, r *readName, fn func(context.Context) error) (err error) {
	ctx, span := trace.TracerFromContext(ctx).Start(ctx, r.span, r.spanOpts...)
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = errs.New(errs.Internal, "", fmt.Errorf("panic in %s read: %v\n%s", r.name, p, debug.Stack()))
		}
		observeRead(ctx, svcCtx, r.name, time.Since(start), err)
		if err != nil {
			span.SetStatus(codes.Error, string(errs.Classify(err).Code))
		}
		span.End()
	}()
	return fn(ctx)
}
