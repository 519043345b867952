package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// profile takes a CPU profile during one extra (unmeasured) run of a,
// saved as cpu-<name>.pprof, and summarises it with `go tool pprof`: of
// this process, or, with a devURL, of the service process whose go-zero
// DevServer that is (its /debug/pprof/profile, from delay into the run for
// -duration).
func (e *env) profile(name string, a arm, conns int, devURL string, delay time.Duration) (*Profile, error) {
	path := filepath.Join(*artifactsDir, "cpu-"+name+".pprof")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fetched := make(chan error, 1)
	if devURL == "" {
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	} else {
		go func() {
			time.Sleep(delay)
			res, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", devURL, int(duration.Seconds())))
			if err == nil {
				_, err = io.Copy(f, res.Body)
				res.Body.Close()
			}
			fetched <- err
		}()
	}
	r, err := a(conns, *duration, 50)
	if devURL == "" {
		pprof.StopCPUProfile()
	} else {
		err = errors.Join(err, <-fetched)
	}
	if err != nil {
		return nil, err
	}
	p := &Profile{Path: path, Requests: r.Requests, RPS: r.RPS}
	top := func(args ...string) (string, error) {
		out, err := exec.Command("go", append([]string{"tool", "pprof", "-top"}, append(args, path)...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %w: %s", err, out)
		}
		return string(out), nil
	}
	if p.Flat, err = top("-nodecount=25"); err != nil {
		return nil, err
	}
	if p.Cum, err = top("-cum", "-nodecount=400"); err != nil {
		return nil, err
	}
	return p, nil
}

// Top is `pprof -top` by flat time, without its file, build and time lines.
func (p *Profile) Top() string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(p.Flat), "\n") {
		if !strings.HasPrefix(line, "File:") && !strings.HasPrefix(line, "Build ID:") && !strings.HasPrefix(line, "Time:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// Ours is the column header and the first n rows of the cumulative
// listing that belong to this module.
func (p *Profile) Ours(n int) string {
	var keep []string
	rows := 0
	for _, line := range strings.Split(p.Cum, "\n") {
		switch {
		case strings.Contains(line, "flat%"):
			keep = append(keep, line)
		case strings.Contains(line, "github.com/clinicaldata/projectsvc/") && rows < n:
			keep = append(keep, line)
			rows++
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// Share is the summed cum% of those of fns in the profile, and which those are.
func (p *Profile) Share(fns ...string) (share float64, found []string) {
	for _, line := range strings.Split(p.Cum, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !slices.Contains(fns, f[len(f)-1]) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64); err == nil {
			share += v
			found = append(found, f[len(f)-1])
		}
	}
	return share, found
}

// profileArea is a set of functions whose cumulative share locates a cost.
// Where the service's code changed, an area lists the functions of both.
type profileArea struct {
	What string
	Fns  []string
}

const (
	module  = "github.com/clinicaldata/projectsvc/"
	sqlx    = "github.com/zeromicro/go-zero/core/stores/sqlx."
	ourSvc  = module + "internal/store."
	ourSite = module + "model.(*customProjectInstitutionModel).FindAllByProjectID"
	ourLast = module + "model.(*customProjectReportModel).FindLatestByProjectID"
)

var (
	reflectiveMapping = []string{sqlx + "unmarshalRows", sqlx + "unmarshalRow"}
	rowMapping        = append([]string{ourSvc + "scanner.scan"}, reflectiveMapping...)
	ownLogic          = []string{module + "internal/logic/project.toResponse", ourSvc + "(*readConn).limited", module + "internal/logic/project.observeRead"}
)

// profileAreas are where the samples of a saturated service go.
var profileAreas = []profileArea{
	{"HTTP serving on the connection's goroutine: parsing, middlewares, handler, JSON, access log (the reads run on their own goroutines)", []string{"net/http.(*conn).serve"}},
	{"the three reads (our models through the read connection: pool, driver, row mapping)", []string{
		ourSvc + "(*readConn).QueryRowsCtx", ourSvc + "(*readConn).QueryRowCtx"}},
	{"… of which mapping rows into structs (go-zero's reflective mapping, or the store's scan plans)", rowMapping},
	{"… of which database/sql + go-sql-driver issuing the query", []string{"database/sql.(*DB).queryDC"}},
	{"the access log line", []string{"github.com/zeromicro/go-zero/rest/handler.logBrief", module + "internal/server.accessLog"}},
	{"JSON encoding of the response", []string{"github.com/zeromicro/go-zero/core/jsonx.Marshal", module + "internal/handler/httpio.OkJSON"}},
	{"request parsing (httpx.Parse)", []string{"github.com/zeromicro/go-zero/rest/httpx.Parse"}},
	{"our response building (logic.toResponse)", ownLogic[:1]},
	{"our server-side deadline rewrite (store: limited)", ownLogic[1:2]},
	{"our conditional-request handling (httpio: the ETag digest)", []string{module + "internal/handler/httpio.etagOf"}},
	{"our per-read metrics (logic.observeRead)", ownLogic[2:]},
	{"error and alert log lines: each refusal's access line (level error, as every 5xx), go-zero's two shedding lines (at most one a second each)", []string{"github.com/zeromicro/go-zero/core/logx.(*concreteWriter).Error", "github.com/zeromicro/go-zero/core/logx.(*concreteWriter).Alert"}},
	{"go-zero's shedder deciding (load.adaptiveShedder.Allow)", []string{"github.com/zeromicro/go-zero/core/load.(*adaptiveShedder).Allow"}},
	{"token verification (auth.Verifier.Verify: the token cache, or the signature and claims)", []string{module + "internal/auth.(*Verifier).Verify"}},
	{"the audit rows: building them, handing them over and waiting (audit.Disclose, audit.(*Record).Finish)", []string{module + "internal/audit.Disclose", module + "internal/audit.(*Record).Finish"}},
	{"the audit trail's writers: the group-commit INSERT (store.(*AuditTrail).write)", []string{ourSvc + "(*AuditTrail).write"}},
	{"goroutine stack growth (runtime.newstack)", []string{"runtime.newstack"}},
	{"garbage collection (background mark workers)", []string{"runtime.gcBgMarkWorker"}},
}

// AreaShare is one area's share of a profile.
type AreaShare struct {
	profileArea
	Share float64
}

// Areas are the shares of the profile's areas that appear in it.
func (p *Profile) Areas() []AreaShare {
	var out []AreaShare
	for _, a := range profileAreas {
		if v, found := p.Share(a.Fns...); len(found) > 0 {
			out = append(out, AreaShare{profileArea{a.What, found}, v})
		}
	}
	return out
}

// Reading is the share of the figures the profile's reading quotes.
func (p *Profile) Reading() map[string]float64 {
	return map[string]float64{"own": p.Of(ownLogic...), "mapping": p.Of(rowMapping...), "reflective": p.Of(reflectiveMapping...),
		"sites": p.Of(ourSite), "latest": p.Of(ourLast)}
}

// Of is the share of fns (0 when absent).
func (p *Profile) Of(fns ...string) float64 {
	v, _ := p.Share(fns...)
	return v
}
