package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// catalogueLimits are the page sizes of the catalogue scenario.
var catalogueLimits = []int{20, 100}

// catalogue: GET /projects over the large data set, with authentication
// and the audit trail on (every project on a page is an audit row) and
// off (Auth.Disabled), saturated (the ceiling's concurrency), next to
// records (random ids, audit on) on the same instance: pages of 20 and of
// 100, of the whole catalogue and of a filter (the data set's commonest
// status and a country of median reach), all arms alternated.
//
// The clients walk the lists as a client of the API does, following each
// page's Link to the next (catalogue.lua): a next cursor cannot be known
// in advance. Before the runs the bench walks every list once (audit off),
// checking that the walk returns each project of the list once, in order,
// and writes the pages' paths to a file; the clients' walks begin at pages
// drawn from it (so they are spread over the list) and start over at the
// first page after the last. Random first pages (random updated_since)
// would measure another query — the (updated_at, id) order — and never a
// continuation.
func (e *env) catalogue() error {
	v := bench.Variant{Name: "catalogue, audit off", Overrides: []string{bench.SheddingOff}}
	off, err := bench.StartService(e.large.dsn, v)
	if err != nil {
		return err
	}
	defer off.Close()
	v.Name = "catalogue, audit on"
	on, err := e.withAuth(e.large.dsn, v)
	if err != nil {
		return err
	}
	defer on.Close()
	am, err := e.auditMeters(e.large)
	if err != nil {
		return err
	}
	defer am.Close()
	db, err := sql.Open("mysql", e.large.dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	out := &Catalogue{Clients: *satClients, Cores: e.rep.Machine.Cores, DBCPUSkipped: am.skipped}
	status, country, matching, err := commonFilter(e.ctx, db)
	if err != nil {
		return err
	}
	out.Filter = url.Values{"status": {status}, "country": {country}}.Encode()
	out.FilterShare = float64(matching) / float64(e.large.spec.Projects)
	logf("  filter %s: %d of %d projects", out.Filter, matching, e.large.spec.Projects)

	dir, err := filepath.Abs(*artifactsDir)
	if err != nil {
		return err
	}
	header := on.Variant.Header // both arms send the token (the off arm ignores it)
	w := e.wrk.WithScript("catalogue.lua")
	var compared []string
	for _, filter := range []string{"", out.Filter} {
		want := e.large.spec.Projects
		if filter != "" {
			want = matching
		}
		for _, limit := range catalogueLimits {
			l := CatalogueList{Filter: filter, Limit: limit}
			first := "/projects?limit=" + strconv.Itoa(limit)
			if filter != "" {
				first += "&" + filter
			}
			paths, projects, err := walkList(e.ctx, off.URL, header, first)
			if err != nil {
				return fmt.Errorf("walking %s: %w", first, err)
			}
			if projects != want {
				return fmt.Errorf("walking %s: %d projects in %d pages, the database has %d", first, projects, len(paths), want)
			}
			l.Pages, l.Projects = len(paths), projects
			file := filepath.Join(dir, fmt.Sprintf("catalogue-%d-%s.paths", limit, map[bool]string{true: "all", false: "filtered"}[filter == ""]))
			if err := os.WriteFile(file, []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
				return err
			}
			compared = append(compared, paths[0], paths[len(paths)/2], paths[len(paths)-1])
			l.Command = w.Command(out.Clients, *duration, walk(authHeader, filepath.Join(*artifactsDir, filepath.Base(file)))(0))
			l.file = file
			out.Lists = append(out.Lists, l)
			logf("  %s: %d projects in %d pages", first, projects, len(paths))
		}
	}
	if err := bench.SameAnswers(e.ctx, off.URL, on.URL, header, compared); err != nil {
		return fmt.Errorf("with the audit on the catalogue does not answer as with it off: %w", err)
	}
	out.BodiesCompared = len(compared)

	lines := on.Variant.HeaderLines()
	arms := []arm{am.arm(e.wrkArm(on.URL, on.Svc.Store.PrimaryStats, random(e.large, lines)), on, &out.Record),
		am.arm(e.wrkArm(off.URL, off.Svc.Store.PrimaryStats, random(e.large, lines)), off, &out.RecordOff)}
	for i := range out.Lists {
		l := &out.Lists[i]
		arms = append(arms,
			am.arm(e.wrkArmOf(w, on.URL, on.Svc.Store.PrimaryStats, walk(lines, l.file)), on, &l.On),
			am.arm(e.wrkArmOf(w, off.URL, off.Svc.Store.PrimaryStats, walk(lines, l.file)), off, &l.Off))
	}
	sums, err := e.compare(out.Clients, arms...)
	if err != nil {
		return err
	}
	out.Record.Summary, out.RecordOff.Summary = sums[0], sums[1]
	out.Record.counted()
	out.RecordOff.counted()
	out.RecordCommand = e.command(out.Clients, random(e.large, authHeader)(0))
	logf("  records: audit on %.0f/s p50 %s p99 %s, %d errors | off %.0f/s p50 %s p99 %s, %d errors", out.Record.RPS, fmtMs(out.Record.P50), fmtMs(out.Record.P99), out.Record.Errors,
		out.RecordOff.RPS, fmtMs(out.RecordOff.P50), fmtMs(out.RecordOff.P99), out.RecordOff.Errors)
	for i := range out.Lists {
		l := &out.Lists[i]
		l.On.Summary, l.Off.Summary = sums[2+2*i], sums[3+2*i]
		l.On.counted()
		l.Off.counted()
		logf("  %s, pages of %d: audit on %.0f/s (%.0f projects/s) p50 %s p99 %s, %d errors, %.1f audit rows per page, %.0f rows per INSERT | off %.0f/s p50 %s p99 %s, %d errors",
			l.Name(), l.Limit, l.On.RPS, l.On.RPS*l.PerPage(), fmtMs(l.On.P50), fmtMs(l.On.P99), l.On.Errors, ratio(l.On.AuditRows, l.On.Answered), l.On.RowsPerInsert(),
			l.Off.RPS, fmtMs(l.Off.P50), fmtMs(l.Off.P99), l.Off.Errors)
	}
	for _, c := range out.AuditCosts() {
		logf("  the audit per disclosed project, %s: %s CPU (service %s, database %s, docker-proxy %s), saturated time %s; per page besides: %s CPU, saturated time %s",
			c.Name(), fmtUs(c.PerProject.CPU()), fmtUs(c.PerProject.Service), fmtUs(c.PerProject.DB), fmtUs(c.PerProject.Proxy), fmtUs(c.PerProject.Saturated),
			fmtUs(c.PerPage.CPU()), fmtUs(c.PerPage.Saturated))
	}
	e.rep.Catalogue = out
	return nil
}

// walk is catalogue.lua's load walking the pages listed in file; run
// selects the walks' starting pages.
func walk(header []string, file string) func(run int) bench.Load {
	return func(run int) bench.Load {
		return bench.Load{Header: header, ScriptArgs: []string{"walk", file, strconv.Itoa(run + 1)}}
	}
}

// commonFilter is the filter of the filtered lists: the commonest status of
// the data set and the country whose sites take part in the median number
// of projects (of the countries; the commonest would filter next to
// nothing), with the number of projects both match.
func commonFilter(ctx context.Context, db *sql.DB) (status, country string, matching int, err error) {
	if err = db.QueryRowContext(ctx, "SELECT `status` FROM `project` GROUP BY `status` ORDER BY COUNT(*) DESC, `status` LIMIT 1").Scan(&status); err != nil {
		return "", "", 0, fmt.Errorf("the commonest status: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT `country` FROM `project_institution` GROUP BY `country` ORDER BY COUNT(DISTINCT `project_id`), `country`")
	if err != nil {
		return "", "", 0, err
	}
	var countries []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return "", "", 0, err
		}
		countries = append(countries, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(countries) == 0 {
		return "", "", 0, fmt.Errorf("the countries of the sites: %v (%d)", err, len(countries))
	}
	country = countries[len(countries)/2]
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `project` p WHERE p.`status` = ? AND EXISTS "+
		"(SELECT 1 FROM `project_institution` pi WHERE pi.`project_id` = p.`id` AND pi.`country` = ?)", status, country).Scan(&matching)
	return status, country, matching, err
}

// walkList reads a list page by page from first, following each page's
// Link, and returns the pages' paths and the number of projects on them.
// It fails unless the projects come in increasing id order (the
// catalogue's order without updated_since), each once, and a page has a
// Link exactly when it has a next_cursor.
func walkList(ctx context.Context, base string, header map[string]string, first string) (paths []string, projects int, err error) {
	var last uint64
	for path := first; path != ""; {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, 0, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, 0, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("GET %s: %d: %.300s", path, res.StatusCode, body)
		}
		var page struct {
			Projects []struct {
				ID uint64 `json:"id"`
			} `json:"projects"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, 0, fmt.Errorf("GET %s: %w", path, err)
		}
		for _, p := range page.Projects {
			if p.ID <= last {
				return nil, 0, fmt.Errorf("GET %s: project %d after %d", path, p.ID, last)
			}
			last = p.ID
		}
		paths, projects = append(paths, path), projects+len(page.Projects)
		link := res.Header.Get("Link")
		next, _, ok := strings.Cut(strings.TrimPrefix(link, "<"), ">")
		if (page.NextCursor != nil) != (link != "") || (link != "" && (!ok || !strings.HasPrefix(link, "<"))) {
			return nil, 0, fmt.Errorf("GET %s: next_cursor %v but Link %q", path, page.NextCursor != nil, link)
		}
		if link != "" && len(page.Projects) == 0 {
			return nil, 0, fmt.Errorf("GET %s: an empty page with a next page", path)
		}
		if len(paths) > 100_000 {
			return nil, 0, fmt.Errorf("more than %d pages from %s", len(paths), first)
		}
		path = next
	}
	return paths, projects, nil
}

// Cost is a cost per request (or per project): the CPU of the service, of
// the database and of the docker-proxy relaying its port, the whole
// machine's busy CPU (other tenants included), and the saturated time
// (1 ÷ req/s: the machine's time a request takes when the load keeps it
// busy).
type Cost struct {
	Service, DB, Proxy, Machine, Saturated time.Duration
}

// CPU is the service's, the database's and its docker-proxy's CPU: what
// the request itself costs the machine, without the load generator and
// other tenants.
func (c Cost) CPU() time.Duration { return c.Service + c.DB + c.Proxy }

func (c Cost) minus(o Cost) Cost {
	return Cost{c.Service - o.Service, c.DB - o.DB, c.Proxy - o.Proxy, c.Machine - o.Machine, c.Saturated - o.Saturated}
}

func (c Cost) times(f float64) Cost {
	m := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	return Cost{m(c.Service), m(c.DB), m(c.Proxy), m(c.Machine), m(c.Saturated)}
}

// costOf is an arm's cost per answered request.
func costOf(a AuthArm, cores int) Cost {
	c := Cost{Service: a.ServiceCPUPerRequest(), Proxy: perRequest(a.ProxyCPU, a.Answered), Machine: a.MachineCPUPerRequest(cores)}
	if len(a.DBCPU) > 0 {
		c.DB = a.DBCPUPerRequest(0)
	}
	if a.RPS > 0 {
		c.Saturated = time.Duration(float64(time.Second) / a.RPS)
	}
	return c
}

// AuditCost is what the audit trail adds to the pages of one list (no
// filter, or the filter), from its pages of 20 and of 100 with the audit
// on and off: per disclosed project (the slope), and per page (the rest).
type AuditCost struct {
	Filter              string
	PerProject, PerPage Cost
	// OnMinusOff are the added cost per page of 20 and of 100.
	OnMinusOff [2]Cost
}

// Name names the list.
func (a AuditCost) Name() string { return CatalogueList{Filter: a.Filter}.Name() }

// AuditCosts are the audit's costs of each list measured in both page sizes.
func (c *Catalogue) AuditCosts() []AuditCost {
	var out []AuditCost
	for i, small := range c.Lists {
		for _, large := range c.Lists[i+1:] {
			if large.Filter != small.Filter || large.PerPage() == small.PerPage() {
				continue
			}
			ds := costOf(small.On, c.Cores).minus(costOf(small.Off, c.Cores))
			dl := costOf(large.On, c.Cores).minus(costOf(large.Off, c.Cores))
			perProject := dl.minus(ds).times(1 / (large.PerPage() - small.PerPage()))
			out = append(out, AuditCost{Filter: small.Filter, PerProject: perProject,
				PerPage: ds.minus(perProject.times(small.PerPage())), OnMinusOff: [2]Cost{ds, dl}})
		}
	}
	return out
}

// CatalogueRow is one list and page size of the catalogue as its table shows it.
type CatalogueRow struct {
	List      CatalogueList
	Audit     string // "on" or "off"
	A         AuthArm
	VsRecord  float64 // req/s ÷ the records' (audit on)
	AuditLoss float64 // 1 − audit on ÷ off, in req/s
	Cost      Cost    // per request
}

// ProjectsPerSecond are the projects the arm's pages disclosed per second.
func (r CatalogueRow) ProjectsPerSecond() float64 { return r.A.RPS * r.List.PerPage() }

// Rows are the catalogue's arms, audit on then off: the records (one
// project a request), then each list.
func (c *Catalogue) Rows() []CatalogueRow {
	rec := CatalogueList{Filter: "records: GET /project/{id}, random ids", Pages: 1, Projects: 1}
	loss := 1 - c.Record.RPS/c.RecordOff.RPS
	out := []CatalogueRow{{rec, "on", c.Record, 1, loss, costOf(c.Record, c.Cores)}, {rec, "off", c.RecordOff, c.RecordOff.RPS / c.Record.RPS, loss, costOf(c.RecordOff, c.Cores)}}
	for _, l := range c.Lists {
		loss := 1 - l.On.RPS/l.Off.RPS
		out = append(out,
			CatalogueRow{l, "on", l.On, l.On.RPS / c.Record.RPS, loss, costOf(l.On, c.Cores)},
			CatalogueRow{l, "off", l.Off, l.Off.RPS / c.Record.RPS, loss, costOf(l.Off, c.Cores)})
	}
	return out
}

// RecordCost is the records' cost per request.
func (c *Catalogue) RecordCost() Cost { return costOf(c.Record, c.Cores) }

// fmtUs is a duration in microseconds.
func fmtUs(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}
