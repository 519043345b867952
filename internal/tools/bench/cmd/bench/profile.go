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
	// The samples under the answer's writer alone: encoding/json's Encoder
	// also encodes go-zero's log lines.
	if p.Answer, err = top("-cum", "-nodecount=100", "-focus="+answerFocus); err != nil {
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
	return shareIn(p.Cum, fns)
}

// shareIn is Share in one `pprof -top -cum` listing (cum% of all samples).
func shareIn(listing string, fns []string) (share float64, found []string) {
	for _, line := range strings.Split(listing, "\n") {
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
// Where the service's code changed, an area lists the functions of both
// (the old ones in retired), so that older results render alike; the
// functions of one version never nest in each other.
type profileArea struct {
	What string
	Fns  []string
}

// answerFocus is pprof's -focus of the samples under the answer's writer.
const answerFocus = `httpio\.OkJSON$`

// inAnswer are functions that others call too (encoding/json's Encoder
// also encodes go-zero's log lines): an area counts only their samples
// under the answer's writer (Profile.Answer).
var inAnswer = map[string]bool{"encoding/json.(*Encoder).Encode": true}

const (
	// redigoCommand is the goroutine redigo's DoContext runs each command on.
	redigoCommand = "github.com/gomodule/redigo/redis.(*conn).DoContext.func1"

	module  = "github.com/clinicaldata/projectsvc/"
	sqlx    = "github.com/zeromicro/go-zero/core/stores/sqlx."
	ourSvc  = module + "internal/store."
	ourHTTP = module + "internal/handler/httpio."
	ourRep  = module + "internal/logic/represent."
	ourProj = module + "internal/logic/project."
	ourLast = module + "model.(*customProjectReportModel).FindLatestByProjectID"
)

var (
	ourSites          = []string{module + "model.(*customProjectInstitutionModel).FindByProjectID", module + "model.(*customProjectInstitutionModel).FindAllByProjectID"}
	reflectiveMapping = []string{sqlx + "unmarshalRows", sqlx + "unmarshalRow"}
	rowMapping        = append([]string{ourSvc + "scanner.scan"}, reflectiveMapping...)
	responseBuilding  = []string{ourRep + "Record", ourRep + "Projects", ourRep + "Institutions", ourRep + "Reports", ourProj + "toResponse"}
	deadlineRewrite   = []string{ourSvc + "(*readConn).limited"}
	readMetrics       = []string{ourProj + "observeRead"}
	ownLogic          = slices.Concat(responseBuilding, deadlineRewrite, readMetrics)
)

// retired are functions the profile areas name that the service no
// longer has (kept so that older results.json render as they did):
// TestProfileAreasNameFunctions checks every other name against the
// functions of this build.
var retired = map[string]bool{
	ourProj + "toResponse": true, // before internal/logic/represent
	module + "model.(*customProjectInstitutionModel).FindAllByProjectID": true, // before the record paged its institutions
	module + "internal/types.(*ProjectDetailsResp).AppendJSON":           true, // the per-type appender, before encoding/json with a pooled encoder
}

// profileAreas are where the samples of a saturated service go.
var profileAreas = []profileArea{
	{"HTTP serving on the connection's goroutine: parsing, middlewares, handler, JSON, access log (the reads run on their own goroutines)", []string{"net/http.(*conn).serve"}},
	{"the reads (our models through the read connection: pool, driver, row mapping)", []string{
		ourSvc + "(*readConn).QueryRowsCtx", ourSvc + "(*readConn).QueryRowCtx"}},
	{"… of which mapping rows into structs (go-zero's reflective mapping, or the store's scan plans)", rowMapping},
	{"… of which database/sql + go-sql-driver issuing the query", []string{"database/sql.(*DB).queryDC"}},
	{"the access log line", []string{"github.com/zeromicro/go-zero/rest/handler.logBrief", module + "internal/server.accessLog"}},
	{"the answer (httpio.OkJSON): JSON encoding, ETag, Link, writing it", []string{ourHTTP + "OkJSON"}},
	{"… of which JSON encoding (encoding/json's Encoder; before: the record's per-type appender)", []string{
		"encoding/json.(*Encoder).Encode", module + "internal/types.(*ProjectDetailsResp).AppendJSON"}},
	{"… of which the ETag digest (httpio.etagOf)", []string{ourHTTP + "etagOf"}},
	{"… of which the Link to the next page (page.SetLink)", []string{module + "internal/page.SetLink"}},
	{"request parsing (httpio.Parse)", []string{ourHTTP + "Parse"}},
	{"our response building (logic/represent)", responseBuilding},
	{"our server-side deadline rewrite (store: limited)", deadlineRewrite},
	{"our per-read metrics (logic.observeRead)", readMetrics},
	{"error and alert log lines: each refusal's access line (level error, as every 5xx), go-zero's two shedding lines (at most one a second each)", []string{"github.com/zeromicro/go-zero/core/logx.(*concreteWriter).Error", "github.com/zeromicro/go-zero/core/logx.(*concreteWriter).Alert"}},
	{"go-zero's shedder deciding (load.adaptiveShedder.Allow)", []string{"github.com/zeromicro/go-zero/core/load.(*adaptiveShedder).Allow"}},
	{"token verification (auth.Verifier.Verify: the token cache, or the signature and claims)", []string{module + "internal/auth.(*Verifier).Verify"}},
	{"the audit rows: building them, handing them over and waiting (audit.Disclose, audit.(*Record).Finish)", []string{module + "internal/audit.Disclose", module + "internal/audit.(*Record).Finish"}},
	{"the audit trail's writers: the group-commit INSERT (store.(*AuditTrail).write)", []string{ourSvc + "(*AuditTrail).write"}},
	{"the rate limit deciding (ratelimit.(*Limiter).Take: the pool, the metrics; and the goroutine redigo starts for every command, redis.(*conn).DoContext.func1, which sends the counting script and reads its answer)", []string{
		module + "internal/ratelimit.(*Limiter).Take", redigoCommand}},
	{"… of which redigo's goroutine per command (sending the script, reading its answer)", []string{redigoCommand}},
	{"error answers (httpx.ErrorCtx: the 429s' JSON, and any other refusal's)", []string{"github.com/zeromicro/go-zero/rest/httpx.ErrorCtx"}},
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
		var share float64
		var found []string
		for _, fn := range a.Fns {
			listing := p.Cum
			if inAnswer[fn] {
				listing = p.Answer
			}
			v, f := shareIn(listing, []string{fn})
			share, found = share+v, append(found, f...)
		}
		if len(found) > 0 {
			out = append(out, AreaShare{profileArea{a.What, found}, share})
		}
	}
	return out
}

// Reading is the share of the figures the profile's reading quotes.
func (p *Profile) Reading() map[string]float64 {
	return map[string]float64{"own": p.Of(ownLogic...), "mapping": p.Of(rowMapping...), "reflective": p.Of(reflectiveMapping...),
		"sites": p.Of(ourSites...), "latest": p.Of(ourLast)}
}

// Of is the share of fns (0 when absent).
func (p *Profile) Of(fns ...string) float64 {
	v, _ := p.Share(fns...)
	return v
}
