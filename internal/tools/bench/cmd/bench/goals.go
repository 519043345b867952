// The targets and goals the report checks, each with what was measured.

package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clinicaldata/projectsvc/internal/tools/bench"
)

// Verdict is one row of a targets or goals table.
type Verdict struct {
	What, Target, Measured, Result string
}

// met phrases a check of value against limit, lower or higher being better.
func met(value, limit float64, lowerIsBetter bool, unit string) string {
	ok := value <= limit
	if !lowerIsBetter {
		ok = value >= limit
	}
	margin := math.Abs(value-limit) / limit * 100
	if ok {
		return fmt.Sprintf("**met** (%.0f%% margin)", margin)
	}
	return fmt.Sprintf("**missed** by %.2f%s (%.0f%%)", math.Abs(value-limit), unit, margin)
}

// metAnd is verdict, missed unless ok too (what names what failed).
func metAnd(verdict string, ok bool, what string) string {
	if ok {
		return verdict
	}
	return "**missed**: " + what + "; otherwise " + verdict
}

func metIf(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// noise says whether the runs of a and b overlap in throughput.
func noise(a, b bench.Summary) bool {
	alo, ahi := a.RangeRPS()
	blo, bhi := b.RangeRPS()
	return ahi >= blo && bhi >= alo
}

// p99Noise says whether the runs of a and b overlap in p99.
func p99Noise(a, b bench.Summary) bool {
	alo, ahi := a.RangeP99()
	blo, bhi := b.RangeP99()
	return ahi >= blo && bhi >= alo
}

// atLeastAsMuch checks goodput a ≥ b, a shortfall inside both arms'
// run-to-run range counting as noise.
func atLeastAsMuch(a, b bench.Summary) string {
	switch r := a.RPS / b.RPS; {
	case r >= 1:
		return met(r, 1, false, " ×")
	case noise(a, b):
		return "**met** (short by " + fmt.Sprintf("%.0f%%", (1-r)*100) + ", within the run-to-run range of both)"
	default:
		return met(r, 1, false, " ×")
	}
}

// Targets are the scenarios' own targets.
func (r *Report) Targets() []Verdict {
	var vs []Verdict
	if f := r.FanOut; f != nil {
		if l, ok := f.at(5 * time.Millisecond); ok {
			ratio := frac(l.Fan.P50, l.Serial.P50)
			vs = append(vs, Verdict{fmt.Sprintf("fanOut: fan-out vs serial, 5 ms RTT, %d clients", f.Clients), "fan-out p50 ≤ 0.45 × serial p50",
				fmt.Sprintf("%.2f × (%s vs %s); context, 1 client: %.2f ×", ratio, fmtMs(l.Fan.P50), fmtMs(l.Serial.P50), frac(f.Single.Fan.P50, f.Single.Serial.P50)),
				met(ratio, 0.45, true, " ×")})
			ratio = frac(l.Fan.P50, l.RTProject)
			vs = append(vs, Verdict{fmt.Sprintf("fanOut: physical limit, 5 ms RTT, %d clients", f.Clients), "fan-out p50 ≤ 1.3 × one round trip",
				fmt.Sprintf("%.2f × (%s vs %s); context, 1 client: %.2f ×", ratio, fmtMs(l.Fan.P50), fmtMs(l.RTProject), frac(f.Single.Fan.P50, f.Single.RTProject)),
				met(ratio, 1.3, true, " ×")})
		}
	}
	if c := r.Ceiling; c != nil && len(c.Arms) > 0 {
		a := c.Arms[0]
		ratio := a.HTTP.RPS / a.Bare.RPS
		vs = append(vs,
			Verdict{fmt.Sprintf("ceiling: HTTP vs bare client, %d clients", c.Clients), "≥ 0.8 × ceiling",
				fmt.Sprintf("%.2f × (%.0f vs %.0f req/s)", ratio, a.HTTP.RPS, a.Bare.RPS), met(ratio, 0.8, false, " ×")},
			Verdict{"ceiling: errors under saturation", "0", fmt.Sprintf("%d in %s answered requests", a.HTTP.Errors, fmtInt(a.HTTP.Total())), metIf(a.HTTP.Errors == 0)},
			Verdict{"ceiling: p99 under saturation", fmt.Sprintf("< request timeout (%s)", r.Timeout), fmtMs(a.HTTP.P99), metIf(a.HTTP.P99 < r.Timeout)})
	}
	if p := r.PoolDefaults; p != nil {
		var worse, noted, brief []string
		for _, l := range p.Levels {
			ok, why := l.asGood()
			switch {
			case !ok:
				worse = append(worse, fmt.Sprintf("%d clients: %s", l.Clients, why))
			case why != "":
				noted = append(noted, fmt.Sprintf("%d clients: %s", l.Clients, why))
			}
			brief = append(brief, fmt.Sprintf("%d: %.2f × req/s, %.2f × p99", l.Clients, l.Defaults.RPS/l.GoZero.RPS, frac(l.Defaults.P99, l.GoZero.P99)))
		}
		res := "**yes** at every level"
		if len(noted) > 0 {
			res += " (" + strings.Join(noted, "; ") + ")"
		}
		if len(worse) > 0 {
			res = "**no**: " + strings.Join(worse, "; ")
		}
		vs = append(vs, Verdict{"poolDefaults: shipped pool vs go-zero's", "defaults at least as good at 16, 64 and 256 clients (throughput ≥ 0.95 ×, p99 ≤ 1.05 ×, or inside the run-to-run range)",
			strings.Join(brief, "; "), res})
	}
	if h := r.HotProject; h != nil {
		ratio := h.On.RPS / h.Off.RPS
		vs = append(vs, Verdict{fmt.Sprintf("hotProject: one project, %d clients", h.Clients), "≥ 3 × throughput with coalescing",
			fmt.Sprintf("%.2f × (%.0f vs %.0f req/s)", ratio, h.On.RPS, h.Off.RPS), met(ratio, 3, false, " ×")})
		if a := h.Audit; a != nil && a.Random.RPS > 0 {
			ratio := a.On.RPS / a.Random.RPS
			context := fmt.Sprintf("; context: coalescing on ÷ off %.2f × with the audit on", a.On.RPS/a.Off.RPS)
			if h.Random.RPS > 0 {
				context += fmt.Sprintf(", hot ÷ random ids %.2f × with it off", h.On.RPS/h.Random.RPS)
			}
			vs = append(vs, Verdict{fmt.Sprintf("hotProject: one project vs random ids, authentication + audit on, %d clients", h.Clients),
				"hot project (coalescing on) ≥ 3 × random ids' throughput with the audit on, 0 errors",
				fmt.Sprintf("%.2f × (%.0f vs %.0f req/s)%s", ratio, a.On.RPS, a.Random.RPS, context),
				metAnd(met(ratio, 3, false, " ×"), a.On.Errors == 0 && a.Random.Errors == 0, "errors")})
		}
	}
	return vs
}

// Goals are issue 11's (cost per request), numbered as in the issue, the
// access control's cost (authCost, auditRoundTrips, catalogue) and the
// rate limits' (limiterCost, floodIsolation).
func (r *Report) Goals() []Verdict {
	var vs []Verdict
	if s := r.SmallRecords; s != nil {
		ratio := s.Shipped.RPS / s.Plain.RPS
		vs = append(vs,
			Verdict{fmt.Sprintf("1 · smallRecords: service as shipped vs plain net/http, %d clients", s.Clients), "≥ 0.85 × the plain baseline's throughput",
				fmt.Sprintf("%.2f × (%.0f vs %.0f req/s)", ratio, s.Shipped.RPS, s.Plain.RPS), met(ratio, 0.85, false, " ×")},
			Verdict{"1 · smallRecords: errors, service as shipped", "0", failures(s.Shipped), metIf(s.Shipped.Errors == 0)},
			Verdict{"2a · smallRecords: goodput, shedding as shipped vs off (shared host)", "≥ 1 × (or inside the run-to-run range)",
				fmt.Sprintf("%.2f × (%.0f vs %.0f 200s/s; %s vs %s errors)", s.Shipped.RPS/s.SheddingOff.RPS, s.Shipped.RPS, s.SheddingOff.RPS, fmtInt(s.Shipped.Errors), fmtInt(s.SheddingOff.Errors)),
				atLeastAsMuch(s.Shipped, s.SheddingOff)})
	}
	if c := r.CPULimited; c != nil && c.Skipped == "" {
		sh, off := c.Shipped, c.Off
		share := 0.0
		if sh.Unavailable > 0 {
			share = float64(sh.RetryAfter) / float64(sh.Unavailable)
		}
		where := fmt.Sprintf("%g CPU, %d clients", c.CPUs, c.Clients)
		vs = append(vs,
			Verdict{"2b · cpuLimited: goodput, shedding as shipped vs off (" + where + ")", "≥ 1 × (or inside the run-to-run range)",
				fmt.Sprintf("%.2f × (%.0f vs %.0f 200s/s)", sh.RPS/off.RPS, sh.RPS, off.RPS), atLeastAsMuch(sh.Summary, off.Summary)},
			Verdict{"2b · cpuLimited: overload answered 503 + Retry-After", "503s, every one with Retry-After",
				orNoRefusals(sh.Unavailable, fmt.Sprintf("%s × 503, %.0f%% with Retry-After", fmtInt(sh.Unavailable), share*100)), metIf(sh.Unavailable > 0 && sh.RetryAfter == sh.Unavailable)},
			Verdict{"2b · cpuLimited: the 503s are fast", "p99 of the 503s ≤ p50 of the accepted requests",
				orNoRefusals(sh.Unavailable, fmtMs(sh.UnavailableP99)+" vs "+fmtMs(sh.P50)), metIf(sh.Unavailable > 0 && sh.UnavailableP99 <= sh.P50)},
			Verdict{"2b · cpuLimited: accepted requests' p99 bounded", fmt.Sprintf("≤ with shedding off, and < request timeout (%s)", r.Timeout),
				fmt.Sprintf("%.2f × (%s vs %s)", frac(sh.P99, off.P99), fmtMs(sh.P99), fmtMs(off.P99)), metIf(sh.P99 <= off.P99 && sh.P99 < r.Timeout)})
	}
	if c := r.CostPerRequest; c != nil {
		vs = append(vs, Verdict{"3 · costPerRequest: BenchmarkGetProject", "allocs/op and B/op reported",
			fmt.Sprintf("%s allocs/op, %s B/op", fmtInt(int64(c.AllocsOp)), fmtInt(int64(c.BytesOp))), "**reported**"})
	}
	if f := r.FanOut; f != nil {
		if l, ok := f.at(5 * time.Millisecond); ok {
			for _, x := range []struct {
				clients int
				l       FanOutLevel
			}{{1, *f.Single}, {f.Clients, l}} {
				ratio := frac(x.l.Fan.P50, x.l.RTProject)
				vs = append(vs, Verdict{fmt.Sprintf("4 · fanOut: p50 in round trips, 5 ms per read, %d client(s)", x.clients), "≤ 1.15 round trips",
					fmt.Sprintf("%.2f (%s vs %s)", ratio, fmtMs(x.l.Fan.P50), fmtMs(x.l.RTProject)), met(ratio, 1.15, true, "")})
			}
		}
	}
	if c := r.Ceiling; c != nil && len(c.Arms) > 0 {
		peak := float64(c.Arms[0].PeakRSS) / (1 << 20)
		vs = append(vs, Verdict{fmt.Sprintf("5 · ceiling: peak RSS of the service, saturated (%d clients)", c.Clients), "≤ 64 MiB",
			fmt.Sprintf("%.0f MiB (idle %.0f MiB)", peak, float64(c.IdleRSS)/(1<<20)), met(peak, 64, true, " MiB")})
	}
	if a := r.AuthCost; a != nil {
		ratio := a.On.RPS / a.Off.RPS
		vs = append(vs, Verdict{fmt.Sprintf("access control a · authCost: throughput, authentication + audit on vs off, %d clients, small records", a.Clients),
			"≥ 0.8 × with both off, 0 errors",
			fmt.Sprintf("%.2f × (%.0f vs %.0f req/s); errors %s on, %s off", ratio, a.On.RPS, a.Off.RPS, fmtInt(a.On.Errors), fmtInt(a.Off.Errors)),
			metAnd(met(ratio, 0.8, false, " ×"), a.On.Errors == 0 && a.Off.Errors == 0, "errors")})
		added := a.LowOn.P50 - a.LowOff.P50
		vs = append(vs, Verdict{"access control b · authCost: added p50 at low load (1 client)", "on − off ≤ 1 ms",
			fmt.Sprintf("%+.2f ms (%s vs %s)", msf(added), fmtMs(a.LowOn.P50), fmtMs(a.LowOff.P50)), met(msf(added), 1, true, " ms")})
	}
	if a := r.AuditRoundTrips; a != nil {
		for _, l := range a.Levels {
			ratio := frac(l.On.P50, a.RTProject)
			vs = append(vs, Verdict{fmt.Sprintf("access control c · auditRoundTrips: the audit costs no round trip, %s per answer of the database, %d client(s)", fmtMs(a.Latency), l.Clients),
				"p50 ≤ 1.15 round trips with the audit on, 0 errors",
				fmt.Sprintf("%.2f (%s vs %s); audit off %.2f (%s)", ratio, fmtMs(l.On.P50), fmtMs(a.RTProject), frac(l.Off.P50, a.RTProject), fmtMs(l.Off.P50)),
				metAnd(met(ratio, 1.15, true, ""), l.On.Errors == 0, "errors")})
		}
	}
	if c := r.Catalogue; c != nil && c.Record.RPS > 0 {
		for _, l := range c.Lists {
			if l.Limit != 20 {
				continue
			}
			ratio := l.On.RPS / c.Record.RPS
			vs = append(vs, Verdict{fmt.Sprintf("access control d · catalogue: a page of 20 (%s) vs a record, authentication + audit on, %d clients", l.Name(), c.Clients),
				"a page costs at most 2 records: page req/s ≥ 0.5 × record req/s, 0 errors",
				fmt.Sprintf("%.2f × (%.0f vs %.0f req/s; %.0f projects/s); errors %s pages, %s records", ratio, l.On.RPS, c.Record.RPS, l.On.RPS*l.PerPage(), fmtInt(l.On.Errors), fmtInt(c.Record.Errors)),
				metAnd(met(ratio, 0.5, false, " ×"), l.On.Errors == 0 && c.Record.Errors == 0, "errors")})
		}
		for _, a := range c.AuditCosts() {
			vs = append(vs, Verdict{fmt.Sprintf("access control e · catalogue: the audit's cost per disclosed project with group commit (%s)", a.Name()),
				"reported (from pages of 20 and 100, audit on − off)",
				fmt.Sprintf("%s of CPU (service %s, database %s, its docker-proxy %s) and %s of saturated time per project; per page besides: %s of CPU, %s of saturated time",
					fmtUs(a.PerProject.CPU()), fmtUs(a.PerProject.Service), fmtUs(a.PerProject.DB), fmtUs(a.PerProject.Proxy), fmtUs(a.PerProject.Saturated),
					fmtUs(a.PerPage.CPU()), fmtUs(a.PerPage.Saturated)),
				"**reported**"})
		}
	}
	if l := r.LimiterCost; l != nil && l.Skipped == "" {
		ratio := l.On.RPS / l.Off.RPS
		vs = append(vs, Verdict{fmt.Sprintf("rate limits a · limiterCost: throughput, rate limiting on (Redis, a quota that never trips) vs off, %d clients, authentication + audit on", l.Clients),
			"≥ 0.95 × with it off, 0 errors, every decision taken on Redis",
			fmt.Sprintf("%.2f × (%.0f vs %.0f req/s); errors %s on, %s off; decisions on Redis %s for %s answers, local %s, refused %s, switches to local %s",
				ratio, l.On.RPS, l.Off.RPS, fmtInt(l.On.Errors), fmtInt(l.Off.Errors),
				fmtInt(l.On.Shared), fmtInt(l.On.Answered), fmtInt(l.On.Local), fmtInt(l.On.Limited), fmtInt(l.On.ToLocal)),
			metAnd(met(ratio, 0.95, false, " ×"), l.On.Errors == 0 && l.Off.Errors == 0 && l.On.OnRedis(), limiterMissed(l))})
		added := l.LowOn.P50 - l.LowOff.P50
		vs = append(vs, Verdict{"rate limits b · limiterCost: added p50 at low load (1 client)", "reported (one round trip to Redis)",
			fmt.Sprintf("%+.3f ms (%s vs %s); %.2f × the throughput", msf(added), fmtMs(l.LowOn.P50), fmtMs(l.LowOff.P50), l.LowOn.RPS/l.LowOff.RPS), "**reported**"})
	}
	if f := r.FloodIsolation; f != nil && f.Skipped == "" {
		on, off := f.On, f.Off
		calmOK := on.Alone.Calm.Errors == 0 && on.Flooded.Calm.Errors == 0 && on.Alone.CalmLimited == 0 && on.Flooded.CalmLimited == 0
		var why []string
		if !calmOK {
			why = append(why, fmt.Sprintf("the calm client had %s errors (%s × 429)",
				fmtInt(on.Alone.Calm.Errors+on.Flooded.Calm.Errors), fmtInt(on.Alone.CalmLimited+on.Flooded.CalmLimited)))
		}
		if on.Flooded.FloodLimited == 0 {
			why = append(why, "the flood was never refused")
		}
		if on.Flooded.Local > 0 || on.Flooded.ToLocal > 0 {
			why = append(why, fmt.Sprintf("%s decisions taken locally (calls to Redis past RateLimit.Timeout)", fmtInt(on.Flooded.Local)))
		}
		vs = append(vs, Verdict{fmt.Sprintf("rate limits c · floodIsolation: a calm client (%g req/s, 1 connection) while another floods (%d connections), rate limiting on", f.CalmRate, f.FloodClients),
			"calm p99 flooded ≤ 1.5 × its p99 alone; the calm client 0 errors, 0 × 429",
			fmt.Sprintf("%.2f × (p99 %s vs %s; p50 %s vs %s); calm errors %s, 429s %s; the flood: %s × 429 (%.0f%% of its answers, %.0f/s), %.0f 200s/s",
				on.P99Ratio(), fmtMs(on.Flooded.Calm.P99), fmtMs(on.Alone.Calm.P99), fmtMs(on.Flooded.Calm.P50), fmtMs(on.Alone.Calm.P50),
				fmtInt(on.Alone.Calm.Errors+on.Flooded.Calm.Errors), fmtInt(on.Alone.CalmLimited+on.Flooded.CalmLimited),
				fmtInt(on.Flooded.FloodLimited), on.Flooded.LimitedShare()*100, on.Flooded.LimitedPerSecond(), on.Flooded.Flood.RPS),
			metAnd(met(on.P99Ratio(), 1.5, true, " ×"), len(why) == 0, strings.Join(why, "; "))})
		vs = append(vs, Verdict{"rate limits d · floodIsolation: the same with rate limiting off (the flood reaches the database)", "reported (what the limiter buys)",
			fmt.Sprintf("%.2f × (p99 %s vs %s; p50 %s vs %s); calm errors %s; the flood: %.0f 200s/s",
				off.P99Ratio(), fmtMs(off.Flooded.Calm.P99), fmtMs(off.Alone.Calm.P99), fmtMs(off.Flooded.Calm.P50), fmtMs(off.Alone.Calm.P50),
				fmtInt(off.Alone.Calm.Errors+off.Flooded.Calm.Errors), off.Flooded.Flood.RPS),
			"**reported**"})
	}
	return vs
}

// limiterMissed names what besides throughput failed in limiterCost.
func limiterMissed(l *LimiterCost) string {
	var why []string
	if l.On.Errors > 0 || l.Off.Errors > 0 {
		why = append(why, "errors")
	}
	if !l.On.OnRedis() {
		why = append(why, fmt.Sprintf("not every decision was taken on Redis (%s on Redis for %s answers, %s local, %s refused, %s switches to local): the arm measured the local fallback in part",
			fmtInt(l.On.Shared), fmtInt(l.On.Answered), fmtInt(l.On.Local), fmtInt(l.On.Limited), fmtInt(l.On.ToLocal)))
	}
	return strings.Join(why, "; ")
}

// failures is how many of s's requests failed, of all its runs.
func failures(s bench.Summary) string {
	all := s.Errors + s.Total()
	if all == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%s of %s requests failed (%.0f%%)", fmtInt(s.Errors), fmtInt(all), float64(s.Errors)/float64(all)*100)
}

// orNoRefusals is measured, or a note that there was no 503 to measure.
func orNoRefusals(n int64, measured string) string {
	if n == 0 {
		return "no 503 at all (the service was not overloaded, or did not shed)"
	}
	return measured
}

// at is the level of latency lat.
func (f *FanOut) at(lat time.Duration) (FanOutLevel, bool) {
	for _, l := range f.Levels {
		if l.Latency == lat && f.Single != nil {
			return l, true
		}
	}
	return FanOutLevel{}, false
}

// asGood: the defaults' throughput is at least 95% of go-zero's pool's
// and their p99 at most 105% of it. A shortfall inside the run-to-run range
// of both arms (their ranges over the runs overlap) is reported as noise.
func (l PoolLevel) asGood() (ok bool, why string) {
	var worse, noisy []string
	if l.Defaults.RPS < 0.95*l.GoZero.RPS {
		m := fmt.Sprintf("throughput %.2f ×", l.Defaults.RPS/l.GoZero.RPS)
		if noise(l.Defaults, l.GoZero) {
			noisy = append(noisy, m)
		} else {
			worse = append(worse, m)
		}
	}
	if float64(l.Defaults.P99) > 1.05*float64(l.GoZero.P99) {
		m := fmt.Sprintf("p99 %.2f ×", frac(l.Defaults.P99, l.GoZero.P99))
		if p99Noise(l.Defaults, l.GoZero) {
			noisy = append(noisy, m)
		} else {
			worse = append(worse, m)
		}
	}
	if l.Defaults.Errors > l.GoZero.Errors {
		worse = append(worse, fmt.Sprintf("%d errors vs %d", l.Defaults.Errors, l.GoZero.Errors))
	}
	switch {
	case len(worse) > 0:
		return false, strings.Join(append(worse, noisy...), ", ")
	case len(noisy) > 0:
		return true, strings.Join(noisy, ", ") + " — within the run-to-run range of both"
	}
	return true, ""
}

// AsGood is the level's verdict as its table cell shows it.
func (l PoolLevel) AsGood() string {
	switch ok, why := l.asGood(); {
	case !ok:
		return "**no**: " + why
	case why != "":
		return "yes (" + why + ")"
	}
	return "yes"
}
