package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/page"
	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/types"
)

// The plain baseline: GET /project/{id} written with nothing but net/http,
// database/sql, errgroup and encoding/json, rows scanned by hand. It sends
// the SQL the service's models send, server-side time limit included (the
// one the service's read connection adds, internal/svc), over a pool opened
// with the service's DSN defaults and pool settings (store.OpenDB), and
// answers the same JSON, so what it does not spend is what the framework
// costs. It is part of the
// bench only; nothing ships it.

// The statements of the models (model/*model.go, generated finders
// included); TestPlainSendsTheModelsSQL keeps them equal.
const (
	plainProjectSQL = "select `id`,`code`,`title`,`phase`,`status`,`sponsor`,`start_date`,`end_date`,`created_at`,`updated_at` " +
		"from `project` where `id` = ? limit 1"
	plainSitesSQL = "select i.`id`,i.`code`,i.`name`,i.`city`,i.`country`,pi.`role`,pi.`site_status`,pi.`principal_investigator`,pi.`enrolled`,pi.`joined_at` " +
		"from `project_institution` pi join `institution` i on i.`id` = pi.`institution_id` where pi.`project_id` = ? order by i.`name`, i.`id` limit ?"
	plainReportsSQL = "select `id`,`project_id`,`title`,`report_type`,`period_start`,`period_end`,`summary`,`created_at` " +
		"from `project_report` where `project_id` = ? order by `created_at` desc, `id` desc limit ?"
)

// Plain is the plain baseline serving on a loopback port.
type Plain struct {
	URL     string
	DB      *sql.DB
	srv     *http.Server
	timeout time.Duration
	mariaDB bool
}

// StartPlain serves the plain baseline over the pool and request timeout of c.
func StartPlain(ctx context.Context, c config.Config) (*Plain, error) {
	db, err := store.OpenDB(c.Mysql)
	if err != nil {
		return nil, err
	}
	var version string
	if err := db.QueryRowContext(ctx, "select version()").Scan(&version); err != nil {
		db.Close()
		return nil, err
	}
	p := &Plain{DB: db, timeout: time.Duration(c.Timeout) * time.Millisecond,
		mariaDB: strings.Contains(strings.ToLower(version), "mariadb")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /project/{id}", p.get)
	if p.URL, p.srv, err = serve(mux, p.timeout); err != nil {
		db.Close()
		return nil, err
	}
	return p, nil
}

// Close stops serving, then closes the pool.
func (p *Plain) Close() error {
	return errors.Join(shutdown(p.srv), p.DB.Close())
}

func (p *Plain) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	limit := int64(10)
	if v := r.URL.Query().Get("reports"); v != "" && err == nil {
		limit, err = strconv.ParseInt(v, 10, 64)
	}
	if err != nil || id == 0 || limit < 1 || limit > 100 {
		plainError(w, http.StatusBadRequest, "invalid_argument")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	resp := types.ProjectDetailsResp{}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.project(gctx, id, &resp.Project) })
	g.Go(func() (err error) { resp.Institutions, resp.InstitutionsNext, err = p.sites(gctx, id); return err })
	g.Go(func() (err error) { resp.Reports, resp.ReportsNext, err = p.reports(gctx, id, limit); return err })
	switch err := g.Wait(); {
	case errors.Is(err, sql.ErrNoRows):
		plainError(w, http.StatusNotFound, "not_found")
	case errors.Is(err, context.DeadlineExceeded):
		plainError(w, http.StatusGatewayTimeout, "timeout")
	case err != nil:
		plainError(w, http.StatusServiceUnavailable, "unavailable")
	default:
		plainJSON(w, http.StatusOK, resp)
	}
}

// limited is q with the context's remaining deadline as its server-side
// limit, written as the service writes it.
func (p *Plain) limited(ctx context.Context, q string) string {
	deadline, _ := ctx.Deadline()
	ms := max(time.Until(deadline).Milliseconds(), 1)
	if p.mariaDB {
		return "SET STATEMENT max_statement_time=" + strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64) + " FOR " + q
	}
	return "select /*+ MAX_EXECUTION_TIME(" + strconv.FormatInt(ms, 10) + ") */" + q[len("select"):]
}

func (p *Plain) project(ctx context.Context, id uint64, out *types.Project) error {
	var start, end sql.NullTime
	var created, updated time.Time
	err := p.DB.QueryRowContext(ctx, p.limited(ctx, plainProjectSQL), id).Scan(&out.Id, &out.Code, &out.Title,
		&out.Phase, &out.Status, &out.Sponsor, &start, &end, &created, &updated)
	out.StartDate, out.EndDate = plainDate(start), plainDate(end)
	out.CreatedAt, out.UpdatedAt = plainTime(created), plainTime(updated)
	return err
}

// plainSites is the service's default of ?institutions= (Record.Institutions).
const plainSites = 100

// sites reads the first plainSites institutions, and one more to know
// whether the list goes on (the service's cursor, when it does).
func (p *Plain) sites(ctx context.Context, id uint64) (_ []types.ProjectInstitution, next *string, _ error) {
	rows, err := p.DB.QueryContext(ctx, p.limited(ctx, plainSitesSQL), id, plainSites+1)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out := []types.ProjectInstitution{}
	for rows.Next() {
		var s types.ProjectInstitution
		var joined time.Time
		if err := rows.Scan(&s.Id, &s.Code, &s.Name, &s.City, &s.Country, &s.Role, &s.SiteStatus,
			&s.PrincipalInvestigator, &s.Enrolled, &joined); err != nil {
			return nil, nil, err
		}
		s.JoinedAt = plainTime(joined)
		out = append(out, s)
	}
	if len(out) > plainSites {
		out = out[:plainSites]
		last := out[plainSites-1]
		next = page.For("/project/:id/institutions", strconv.FormatUint(id, 10)).Next(last.Name, strconv.FormatUint(last.Id, 10))
	}
	return out, next, rows.Err()
}

// reports reads the latest limit reports, and one more to know whether the
// list goes on (the service's cursor, when it does).
func (p *Plain) reports(ctx context.Context, id uint64, limit int64) (_ []types.ProjectReport, next *string, _ error) {
	rows, err := p.DB.QueryContext(ctx, p.limited(ctx, plainReportsSQL), id, limit+1)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out := make([]types.ProjectReport, 0, limit+1)
	var lastCreated time.Time
	for rows.Next() {
		var rep types.ProjectReport
		var projectID uint64
		var start, end sql.NullTime
		var summary sql.NullString
		var created time.Time
		if err := rows.Scan(&rep.Id, &projectID, &rep.Title, &rep.ReportType, &start, &end, &summary, &created); err != nil {
			return nil, nil, err
		}
		rep.PeriodStart, rep.PeriodEnd, rep.CreatedAt = plainDate(start), plainDate(end), plainTime(created)
		if summary.Valid {
			rep.Summary = &summary.String
		}
		if int64(len(out)) < limit {
			lastCreated = created
		}
		out = append(out, rep)
	}
	if int64(len(out)) > limit {
		out = out[:limit]
		next = page.For("/project/:id/reports", strconv.FormatUint(id, 10)).Next(lastCreated.UTC().Format(time.RFC3339Nano), strconv.FormatUint(out[limit-1].Id, 10))
	}
	return out, next, rows.Err()
}

func plainTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func plainDate(t sql.NullTime) *string {
	if !t.Valid {
		return nil
	}
	s := t.Time.Format(time.DateOnly)
	return &s
}

func plainError(w http.ResponseWriter, status int, code string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	plainJSON(w, status, map[string]string{"code": code, "message": code})
}

// plainJSON writes v as the service does: HTML characters unescaped, no
// trailing newline.
func plainJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
