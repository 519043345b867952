package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Wrk runs the HTTP load: wrk (github.com/wg/wrk, Debian package "wrk"),
// closed loop, a fixed number of keep-alive connections, with the Lua
// script project.lua choosing the ids (WithScript: another script of this
// directory, e.g. catalogue.lua).
type Wrk struct {
	Bin    string // path of the wrk binary
	Script string // path of project.lua
	// ScriptShown is how the script is named in recorded commands.
	ScriptShown string
	// Timeout is wrk's per-request socket timeout (above the service's
	// request timeout, so a slow answer is measured, not dropped).
	Timeout time.Duration
}

// WithScript is w running the Lua script name of this directory
// (internal/tools/bench) instead of project.lua.
func (w Wrk) WithScript(name string) Wrk {
	w.Script = filepath.Join(filepath.Dir(w.Script), name)
	w.ScriptShown = path.Join(path.Dir(w.ScriptShown), name)
	return w
}

// Version is the first line of `wrk -v`, e.g. "wrk debian/4.1.0-3+b2 [epoll] ...".
func (w Wrk) Version() string {
	out, _ := exec.Command(w.Bin, "-v").CombinedOutput() // wrk -v exits 1
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.Split(line, " Copyright")[0])
}

var versionRE = regexp.MustCompile(`^wrk (?:debian/)?(\d+)\.(\d+)\.(\d+)`)

// CheckVersion fails unless wrk is the pinned major.minor version.
func (w Wrk) CheckVersion(want string) error {
	v := w.Version()
	m := versionRE.FindStringSubmatch(v)
	if m == nil || m[1]+"."+m[2] != want {
		return fmt.Errorf("%s is %q, want wrk %s.x (Debian package wrk; internal/tools/bench/tools.sh installs it)", w.Bin, v, want)
	}
	return nil
}

// Load is what one wrk run sends: headers on every request ("Name: value")
// and the arguments of project.lua.
type Load struct {
	Header     []string
	ScriptArgs []string
}

// args are wrk's arguments; the URL is the base URL.
func (w Wrk) args(script, url string, conns int, d time.Duration, l Load) []string {
	threads := min(2, conns)
	a := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + fmtSeconds(d),
		"--timeout", fmtSeconds(w.Timeout)}
	for _, h := range l.Header {
		a = append(a, "-H", h)
	}
	a = append(a, "-s", script, url)
	if scriptArgs := l.ScriptArgs; len(scriptArgs) > 0 {
		a = append(append(a, "--"), scriptArgs...)
	}
	return a
}

// Command is the command line of a run, as recorded in the report.
func (w Wrk) Command(conns int, d time.Duration, l Load) string {
	a := w.args(w.ScriptShown, "http://127.0.0.1:$PORT", conns, d, l)
	for i := range a {
		switch {
		case strings.HasPrefix(a[i], "http"):
		case strings.Contains(a[i], "$"): // a shell variable, e.g. $TOKEN
			a[i] = `"` + a[i] + `"`
		case strings.Contains(a[i], " "):
			a[i] = "'" + a[i] + "'"
		}
	}
	return "wrk " + strings.Join(a, " ")
}

func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

type wrkJSON struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Bytes      int64   `json:"bytes"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
	P50        int64   `json:"p50_us"`
	P90        int64   `json:"p90_us"`
	P99        int64   `json:"p99_us"`
	Max        int64   `json:"max_us"`
	Mean       float64 `json:"mean_us"`
}

// Run runs wrk against url for d with conns connections.
func (w Wrk) Run(ctx context.Context, url string, conns int, d time.Duration, l Load) (Result, error) {
	cmd := exec.CommandContext(ctx, w.Bin, w.args(w.Script, url, conns, d, l)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	_, js, ok := strings.Cut(out.String(), "BENCHJSON ")
	if !ok {
		return Result{}, fmt.Errorf("wrk printed no BENCHJSON line:\n%s%s", out.String(), stderr.String())
	}
	js, _, _ = strings.Cut(js, "\n")
	var j wrkJSON
	if err := json.Unmarshal([]byte(js), &j); err != nil {
		return Result{}, fmt.Errorf("wrk output %q: %w", js, err)
	}
	us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	// Throughput counts successful answers only: a fast 503 is not served work.
	r := Result{
		Requests: j.Requests - j.Status,
		Errors:   j.Status + j.Connect + j.Read + j.Write + j.Timeout,
		Duration: us(j.DurationUS),
		P50:      us(j.P50), P90: us(j.P90), P99: us(j.P99), Max: us(j.Max),
		LoadCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
	}
	if j.DurationUS > 0 {
		r.RPS = float64(r.Requests) / (float64(j.DurationUS) / 1e6)
	}
	if r.Errors > 0 {
		r.ErrorDetail = fmt.Sprintf("non-2xx=%d connect=%d read=%d write=%d timeout=%d", j.Status, j.Connect, j.Read, j.Write, j.Timeout)
	}
	return r, nil
}
