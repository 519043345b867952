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

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/store"
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
	grant := caller.Grant(id)
	if grant == "" {
		// Exactly the answer a missing project gets: no existence oracle.
		audit.AskedFor(l.ctx, id)
		return nil, notFound(id)
	}
	// The record's rows go to the audit trail while its reads run.
	if err := audit.Disclose(l.ctx, grant, id); err != nil {
		return nil, errs.New(errs.Timeout, "", err)
	}
	if l.svcCtx.Coalesce == nil {
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
		v, err := svcCtx.Coalesce.Do(key, func() (any, error) {
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

// loadProjectDetails reads the record from one server (the store picks it,
// and retries elsewhere if a replica goes away).
func loadProjectDetails(ctx context.Context, svcCtx *svc.ServiceContext, id uint64, limit int) (*types.ProjectDetailsResp, error) {
	var resp *types.ProjectDetailsResp
	err := svcCtx.Store.Read(ctx, func(ctx context.Context, m *store.Models) (err error) {
		resp, err = fanOut(ctx, svcCtx, m, id, limit)
		return err
	})
	return resp, err
}

// fanOut issues the three reads concurrently over one server's models. The
// first failure cancels the reads still running; the record is assembled
// only when all three succeeded, so it is never partial.
func fanOut(ctx context.Context, svcCtx *svc.ServiceContext, m *store.Models, id uint64, limit int) (*types.ProjectDetailsResp, error) {
	g, gctx := errgroup.WithContext(ctx)
	l := &reads{ctx: gctx, svcCtx: svcCtx, m: m, id: id, limit: limit}
	g.Go(l.readProject)
	g.Go(l.readInstitutions)
	g.Go(l.readReports)
	if err := g.Wait(); err != nil {
		return nil, errs.Classify(err)
	}
	return toResponse(l.project, l.institutions, l.reports), nil
}

// reads are one record's three reads and their results.
type reads struct {
	ctx    context.Context
	svcCtx *svc.ServiceContext
	m      *store.Models
	id     uint64
	limit  int

	project      *model.Project
	institutions []*model.ProjectInstitutionDetail
	reports      []*model.ProjectReport
}

func (l *reads) readProject() error {
	return read(l.ctx, l.svcCtx, &projectRead, func(ctx context.Context) (err error) {
		l.project, err = findProject(ctx, l.m, l.id)
		return err
	})
}

func (l *reads) readInstitutions() error {
	return read(l.ctx, l.svcCtx, &institutionsRead, func(ctx context.Context) (err error) {
		l.institutions, err = l.m.ProjectInstitution.FindAllByProjectID(ctx, l.id)
		return err
	})
}

func (l *reads) readReports() error {
	return read(l.ctx, l.svcCtx, &reportsRead, func(ctx context.Context) (err error) {
		l.reports, err = l.m.ProjectReport.FindLatestByProjectID(ctx, l.id, l.limit)
		return err
	})
}

// findProject reads the project row; a missing project is NotFound (404),
// never a nil record.
func findProject(ctx context.Context, m *store.Models, id uint64) (*model.Project, error) {
	project, err := m.Project.FindOne(ctx, id)
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
