package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dataset"
	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/oidctest"
	"github.com/clinicaldata/projectsvc/internal/testing/redistest"
	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// reportsParam is the ?reports= of every request (the API's default).
const reportsParam = 10

// env is what every scenario uses.
type env struct {
	ctx     context.Context
	wrk     bench.Wrk
	timeout time.Duration // the shipped request timeout
	rep     *Report
	db      *dbtest.Server
	large   database // LargeRecords
	small   database // SmallRecords; empty unless a scenario needs it

	iss     *oidctest.Issuer // started by the first scenario that needs tokens
	token   string           // its access token (project:read:all), sent by every arm with authentication on
	tokenAt time.Time        // when it was issued
	flood   string           // floodClient's access token, fetched as token is (floodToken)
	floodAt time.Time

	redis *redistest.Server // started by the first scenario that needs it; stopRedis removes it
	// redisDirect is the container's own address, when reachable.
	redisDirect string
	redisErr    error // why it could not be started
}

// database is one loaded data set.
type database struct {
	spec dataset.Spec
	dsn  string // the service's DSN, straight to the database
}

// arm is one side of a comparison: how one run of it is loaded (run
// numbers the measured runs from 0; the warm-up is run 99).
type arm func(conns int, d time.Duration, run int) (bench.Result, error)

// compare warms every arm up (unmeasured), then runs the arms alternately,
// -runs times each, and summarises each arm's runs.
func (e *env) compare(conns int, arms ...arm) ([]bench.Summary, error) {
	for _, a := range arms {
		if _, err := a(conns, *warmup, 99); err != nil {
			return nil, err
		}
	}
	results := make([][]bench.Result, len(arms))
	for i := range *runs {
		for j, a := range arms {
			r, err := a(conns, *duration, i)
			if err != nil {
				return nil, err
			}
			results[j] = append(results[j], r)
		}
	}
	out := make([]bench.Summary, len(arms))
	for j := range arms {
		out[j] = bench.Summarize(results[j])
	}
	return out, nil
}

// random is project.lua's load of uniformly random ids of d; run selects
// the stream (all arms of a comparison get the same one).
func random(d database, header []string) func(run int) bench.Load {
	return func(run int) bench.Load {
		return bench.Load{Header: header, ScriptArgs: []string{"random", strconv.Itoa(d.spec.Projects), strconv.Itoa(reportsParam), strconv.Itoa(run + 1)}}
	}
}

// wrkArm loads url with wrk; pool, if not nil, gives the statistics of the
// pool whose waits the run adds.
func (e *env) wrkArm(url string, pool func() sql.DBStats, load func(run int) bench.Load) arm {
	return e.wrkArmOf(e.wrk, url, pool, load)
}

// wrkArmOf is wrkArm with w (another script).
func (e *env) wrkArmOf(w bench.Wrk, url string, pool func() sql.DBStats, load func(run int) bench.Load) arm {
	return func(conns int, d time.Duration, run int) (bench.Result, error) {
		var before sql.DBStats
		if pool != nil {
			before = pool()
		}
		r, err := w.Run(e.ctx, url, conns, d, load(run))
		if pool != nil {
			after := pool()
			r.WaitCount = after.WaitCount - before.WaitCount
			r.WaitDuration = after.WaitDuration - before.WaitDuration
			r.MaxLifetimeClosed = after.MaxLifetimeClosed - before.MaxLifetimeClosed
		}
		return r, err
	}
}

// serviceArm loads s with random ids of d, sending the variant's headers.
func (e *env) serviceArm(s *bench.Service, d database) arm {
	return e.wrkArm(s.URL, s.Svc.Store.PrimaryStats, random(d, s.Variant.HeaderLines()))
}

// bare is the bare client on s's pool over d.
func (e *env) bare(s *bench.Service, d database) bench.Bare {
	return bench.Bare{Svc: s.Svc, Projects: d.spec.Projects, Reports: reportsParam, Timeout: e.timeout, Seed: d.spec.Seed}
}

// command is the wrk command line of a comparison, as the report shows it.
func (e *env) command(conns int, load bench.Load) string {
	return e.wrk.Command(conns, *duration, load)
}

// authTokenLifetime outlasts any bench run: one token serves every request.
const authTokenLifetime = 2 * time.Hour

// authClient is the bench's client of its OpenID Provider: it reads every
// project (project:read:all). Every arm with authentication on sends its
// token; under rate limits it is the calm client (floodIsolation).
var authClient = oidctest.Client{ID: "bench", Secret: "bench-secret", Scopes: []string{"project:read:all"}, TokenLifetime: authTokenLifetime}

// floodClient is the provider's second client, the one that floods in
// floodIsolation (a quota of its own there: RateLimit.Clients).
var floodClient = oidctest.Client{ID: "bench-flood", Secret: "bench-flood-secret", Scopes: []string{"project:read:all"}, TokenLifetime: authTokenLifetime}

// issuer is the in-process OpenID Provider (internal/testing/oidctest) of
// the arms with authentication on, and the access token every request of
// them carries (client credentials grant, scope project:read:all). The
// first call starts the provider (stopIssuer stops it); a token is fetched
// again once half its lifetime has passed, so a scenario starting with one
// never sees it expire.
func (e *env) issuer() (*oidctest.Issuer, string, error) {
	if e.iss == nil {
		iss, err := oidctest.New(authClient, floodClient)
		if err != nil {
			return nil, "", err
		}
		e.iss = iss
	}
	if err := e.fetchToken(authClient, &e.token, &e.tokenAt); err != nil {
		return nil, "", err
	}
	return e.iss, e.token, nil
}

// floodToken is floodClient's access token, fetched as issuer fetches
// authClient's (the provider started first if need be).
func (e *env) floodToken() (string, error) {
	if _, _, err := e.issuer(); err != nil {
		return "", err
	}
	if err := e.fetchToken(floodClient, &e.flood, &e.floodAt); err != nil {
		return "", err
	}
	return e.flood, nil
}

// fetchToken fetches c's token into token (issued at at) unless the one
// there is less than half its lifetime old.
func (e *env) fetchToken(c oidctest.Client, token *string, at *time.Time) error {
	if *token != "" && time.Since(*at) <= authTokenLifetime/2 {
		return nil
	}
	now := time.Now()
	t, err := e.iss.Token(e.ctx, c.ID, c.Secret, "project:read:all")
	if err != nil {
		return err
	}
	*token, *at = t, now
	return nil
}

// stopIssuer stops the OpenID Provider, if one was started.
func (e *env) stopIssuer() {
	if e.iss != nil {
		e.iss.Stop()
		e.iss = nil
	}
}

// withAuth starts v with authentication and the audit trail on (tokens of
// the bench's issuer, the token on every request) over dsn, and checks
// that it has the issuer's keys.
func (e *env) withAuth(dsn string, v bench.Variant) (*bench.Service, error) {
	iss, token, err := e.issuer()
	if err != nil {
		return nil, err
	}
	s, err := bench.StartService(dsn, bench.WithAuth(v, iss.URL, token))
	if err != nil {
		return nil, err
	}
	if !s.Svc.Verifier.Ready() {
		s.Close()
		return nil, fmt.Errorf("%s: the service did not load the issuer's keys from %s", v.Name, iss.URL)
	}
	return s, nil
}

// redisAddr is the address of the Redis the rate-limited arms count in
// (internal/testing/redistest: a container of REDIS_TEST_IMAGE, nothing
// persisted), started on first use; or why there is none (no Docker, no
// such image: the scenarios needing it are skipped, saying why).
func (e *env) redisAddr() (string, error) {
	if e.redis == nil && e.redisErr == nil {
		logf("  starting Redis (%s)", redistest.Image())
		srv, err := redistest.StartContext(e.ctx)
		if err != nil {
			e.redisErr = fmt.Errorf("the Redis image %s (REDIS_TEST_IMAGE) did not start: %w", redistest.Image(), err)
		}
		e.redis = srv
		if err == nil {
			e.redisDirect = directAddr(e.ctx, srv)
		}
	}
	if e.redisErr != nil {
		return "", e.redisErr
	}
	if e.redisDirect != "" {
		return e.redisDirect, nil
	}
	return e.redis.Addr(), nil
}

// directAddr is the container's own address when this host reaches it (a
// local engine's bridge network): the published port goes through
// docker-proxy, a userland relay that cost ~150 µs of CPU per call here,
// which no deployment has. "" when it cannot be reached.
func directAddr(ctx context.Context, srv *redistest.Server) string {
	ip, err := srv.Container().ContainerIP(ctx)
	if err != nil || ip == "" {
		return ""
	}
	addr := net.JoinHostPort(ip, "6379")
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	c.Close()
	logf("  Redis at %s (the container's own address: no docker-proxy in between)", addr)
	return addr
}

// stopRedis removes the Redis container, if one was started.
func (e *env) stopRedis() {
	if e.redis == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.redis.Terminate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench: Redis:", err)
	} else {
		logf("Redis container removed")
	}
	e.redis = nil
}

// authHeader is the header of the arms with authentication on as commands
// show it (the token is not worth printing).
var authHeader = []string{"Authorization: Bearer $TOKEN"}
