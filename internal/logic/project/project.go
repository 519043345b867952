package project

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/zeromicro/go-zero/core/trace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/clinicaldata/projectsvc/internal/audit"
	"github.com/clinicaldata/projectsvc/internal/auth"
	"github.com/clinicaldata/projectsvc/internal/errs"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/svc"
	"github.com/clinicaldata/projectsvc/model"
)

// What the project resource's three routes share: the id, the grant and
// the disclosure, the cursors of the sub-lists, and the instrumented read.

// projectID checks the path's id.
func projectID(id int64) (uint64, error) {
	if id < 1 {
		return 0, errs.Newf(errs.InvalidArgument, "id must be a positive integer, got %d", id)
	}
	return uint64(id), nil
}

// disclose checks that the caller may read project id and declares the
// disclosure to the audit trail, whose rows then go to the database while
// the reads run. A project outside the grant is refused exactly as a
// missing one (no existence oracle), its row naming the project asked for.
func disclose(ctx context.Context, id uint64) error {
	caller := auth.From(ctx)
	if caller == nil {
		return errs.New(errs.Internal, "", errors.New("no caller on the request: the Auth middleware did not run"))
	}
	grant := caller.Grant(id)
	if grant == "" {
		audit.AskedFor(ctx, id)
		return notFound(id)
	}
	if err := audit.Disclose(ctx, grant, id); err != nil {
		return errs.New(errs.Timeout, "", err) // the deadline answered already
	}
	return nil
}

// notFound is the answer for a project that does not exist or that the
// caller may not read: the two are indistinguishable to the caller.
func notFound(id uint64) error {
	return errs.Newf(errs.NotFound, "project %d does not exist", id)
}

// The sub-lists, as cursors name them (the record's *_next continue them).
func siteList(id uint64) page.List {
	return page.For("/project/:id/institutions", strconv.FormatUint(id, 10))
}

func reportList(id uint64) page.List {
	return page.For("/project/:id/reports", strconv.FormatUint(id, 10))
}

// siteCursor trims a page of institutions read with one more than limit,
// and returns the cursor to the rest (nil when there is none).
func siteCursor(id uint64, s []*model.ProjectInstitutionDetail, limit int) ([]*model.ProjectInstitutionDetail, *string) {
	if len(s) <= limit {
		return s, nil
	}
	last := s[limit-1]
	return s[:limit], siteList(id).Next(last.Name, strconv.FormatUint(last.Id, 10))
}

// reportCursor is siteCursor for reports.
func reportCursor(id uint64, r []*model.ProjectReport, limit int) ([]*model.ProjectReport, *string) {
	if len(r) <= limit {
		return r, nil
	}
	last := r[limit-1]
	return r[:limit], reportList(id).Next(last.CreatedAt.UTC().Format(time.RFC3339Nano), strconv.FormatUint(last.Id, 10))
}

// afterSite reads a cursor of project id's institutions.
func afterSite(id uint64, cursor string) (*model.SiteKey, error) {
	key, err := siteList(id).After(cursor, 2)
	if key == nil || err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(key[1], 10, 64)
	if err != nil {
		return nil, errs.Newf(errs.InvalidArgument, "cursor is not a cursor this service handed out: start again without it")
	}
	return &model.SiteKey{Name: key[0], Id: n}, nil
}

// beforeReport reads a cursor of project id's reports.
func beforeReport(id uint64, cursor string) (*model.ReportKey, error) {
	key, err := reportList(id).After(cursor, 2)
	if key == nil || err != nil {
		return nil, err
	}
	at, err1 := time.Parse(time.RFC3339Nano, key[0])
	n, err2 := strconv.ParseUint(key[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, errs.Newf(errs.InvalidArgument, "cursor is not a cursor this service handed out: start again without it")
	}
	return &model.ReportKey{CreatedAt: at, Id: n}, nil
}

// readName names one read (after the part of the record it reads) in
// spans, metrics and logs; its span options are built once.
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

// read runs one read: it turns a panic into an Internal error (errgroup
// does not recover, and the rest server's recover middleware only guards
// the handler's own goroutine), records the read's duration, and traces it
// as a child span of the request ("read <name>"; the sql spans nest under
// it).
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
