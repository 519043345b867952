package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicaldata/projectsvc/internal/testing/dbtest"
	"github.com/clinicaldata/projectsvc/internal/testing/servicetest"
)

// logLine is one line the process wrote: its JSON fields, or none when it
// is not a JSON log entry.
type logLine struct {
	raw     string
	fields  map[string]any
	content string
}

// access tells whether the line is an access line ("[HTTP] ...").
func (l logLine) access() bool { return strings.HasPrefix(l.content, "[HTTP] ") }

// logLines splits the process's output into lines.
func logLines(logs string) []logLine {
	var out []logLine
	for _, raw := range strings.Split(strings.TrimRight(logs, "\n"), "\n") {
		l := logLine{raw: raw}
		if json.Unmarshal([]byte(raw), &l.fields) == nil {
			l.content, _ = l.fields["content"].(string)
		}
		out = append(out, l)
	}
	return out
}

// logMarker is a value no log line holds unless the request put it there.
func logMarker(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// getAs sends GET url with the given User-Agent (none when empty).
func getAs(t *testing.T, url, userAgent string) servicetest.Answer {
	t.Helper()
	h := http.Header{}
	if userAgent != "" {
		h.Set("User-Agent", userAgent)
	}
	return servicetest.Do(t, http.MethodGet, url, h)
}

// onlyInAccessLines fails the test for every line holding needle that is
// not an access line, and returns how many access lines hold it.
func onlyInAccessLines(t *testing.T, lines []logLine, needle, what string) int {
	t.Helper()
	n := 0
	for _, l := range lines {
		if !strings.Contains(l.raw, needle) {
			continue
		}
		if !l.access() {
			t.Errorf("%s appears in a log line that is not an access line:\n%s", what, l.raw)
			continue
		}
		n++
	}
	return n
}

// waitForAccessLines waits until n access lines hold needle (the access
// line is written once the answer is sent).
func waitForAccessLines(t *testing.T, proc *process, needle string, n int) {
	t.Helper()
	count := func() int {
		c := 0
		for _, l := range logLines(proc.Logs()) {
			if l.access() && strings.Contains(l.content, needle) {
				c++
			}
		}
		return c
	}
	if !servicetest.Eventually(5*time.Second, func() bool { return count() >= n }) {
		t.Fatalf("%d access lines hold %q, want %d", count(), needle, n)
	}
}

// TestProcess_RequestValuesOnlyInAccessLines: what a caller puts in the
// query, the path or the User-Agent reaches the log only in the request's
// access line — not in the error logged for a refused query, not in a 5xx's
// error line — and the headers the access line does not carry (a bearer
// token's place) reach it nowhere.
func TestProcess_RequestValuesOnlyInAccessLines(t *testing.T) {
	t.Parallel()
	p := proxied(t)
	proc := startProcess(t, p.DSN(dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql"))), "Log: {Level: debug}")
	mark := logMarker(t, "logmark")
	hidden := logMarker(t, "hdrmark") // in a header the access line does not carry
	send := func(path, userAgent string) servicetest.Answer {
		t.Helper()
		h := http.Header{"X-Marker": {hidden}, "Authorization": {"Bearer " + hidden}}
		if userAgent != "" {
			h.Set("User-Agent", userAgent)
		}
		return servicetest.Do(t, http.MethodGet, proc.URL+path, h)
	}
	for _, tc := range []struct {
		path, userAgent string
		status          int
	}{
		{"/project/1?reports=7&x=" + mark, "", http.StatusBadRequest},               // an unknown query parameter
		{"/project/1?reports=7&" + mark + "=1", "", http.StatusBadRequest},          // ... named by the caller
		{"/project/1?reports=" + mark, "", http.StatusBadRequest},                   // a value that is not a number
		{"/project/1?reports=7", "client/" + mark, http.StatusOK},                   // an answered request
		{"/no/such/route/" + mark + "?q=" + mark, "", http.StatusNotFound},          // no route
		{"/project/" + mark + "?reports=7", "", http.StatusBadRequest},              // a path parameter that is not an id
		{"/project/1?reports=7&x=" + mark, "client/" + mark, http.StatusBadRequest}, // in both
	} {
		if res := send(tc.path, tc.userAgent); res.Status != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, res.Status, res.Body, tc.status)
		}
	}
	// A 5xx is logged at level error: with the database gone.
	p.Cut()
	if res := send("/project/1?reports=7", "client/"+mark); res.Status != http.StatusServiceUnavailable {
		t.Errorf("with the database gone: %d %s, want 503", res.Status, res.Body)
	}
	const requests = 8
	waitForAccessLines(t, proc, mark, requests)

	lines := logLines(proc.Logs())
	if n := onlyInAccessLines(t, lines, mark, "the request's marker"); n < requests {
		t.Errorf("the marker is in %d access lines, want one for each of the %d requests", n, requests)
	}
	for _, l := range lines {
		if strings.Contains(l.raw, hidden) {
			t.Errorf("a header value the access line does not carry is in the log:\n%s", l.raw)
		}
	}
	var errorLines int
	for _, l := range lines {
		if l.access() && l.fields["level"] == "error" && strings.Contains(l.content, mark) {
			errorLines++
		}
	}
	if errorLines == 0 {
		t.Error("no access line at level error for the 503")
	}
}

// TestProcess_SlowReadsLogNameAndDurationOnly: a read slower than
// Mysql.SlowThreshold writes "slow read: <name>" with its duration — the
// read's name only: neither the project id nor any other argument of the
// query, nor anything it read.
func TestProcess_SlowReadsLogNameAndDurationOnly(t *testing.T) {
	t.Parallel()
	const (
		id        = 7340021 // a project id no other log value has
		threshold = 5 * time.Millisecond
		latency   = 40 * time.Millisecond // every answer of the database: each read is slow
	)
	title := logMarker(t, "titlemark")
	dsn := dbtest.NewDatabase(t, "sql/seed.sql")
	if _, err := dbtest.Open(t, dsn).Exec("INSERT INTO project (id, code, title, phase, status, sponsor) VALUES (?, ?, ?, 'II', 'active', 'Slow Reads Sponsor')",
		id, "CTP-"+title, title); err != nil {
		t.Fatal(err)
	}
	p := proxied(t)
	proc := startProcess(t, p.DSN(dbtest.ServiceUser(t, dsn)), "Mysql: {SlowThreshold: "+threshold.String()+"}")
	// Pooled connections first: the slow path below is the reads, not a handshake.
	if res := getAs(t, proc.URL+"/project/1", ""); res.Status != http.StatusOK {
		t.Fatalf("warm-up: %d %s", res.Status, res.Body)
	}
	if err := p.Latency(latency); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/project/%d?reports=37", id)
	res := getAs(t, proc.URL+path, "")
	if res.Status != http.StatusOK || !strings.Contains(res.Body, title) {
		t.Fatalf("GET %s: %d %s, want 200 with the project", path, res.Status, res.Body)
	}
	waitForAccessLines(t, proc, "GET "+path, 1)

	lines := logLines(proc.Logs())
	var access logLine
	for _, l := range lines {
		if l.access() && strings.Contains(l.content, "GET "+path) {
			access = l
		}
	}
	var names []string
	for _, l := range lines {
		name, ok := strings.CutPrefix(l.content, "slow read: ")
		if !ok || l.fields["trace"] != access.fields["trace"] {
			continue // not a slow read of this request
		}
		if !slices.Contains([]string{"project", "institutions", "reports"}, name) {
			t.Errorf("a slow read line names %q, want the read's name only:\n%s", name, l.raw)
		}
		names = append(names, name)
		if l.fields["level"] != "slow" {
			t.Errorf("slow read line at level %v, want slow:\n%s", l.fields["level"], l.raw)
		}
		d, err := time.ParseDuration(fmt.Sprint(l.fields["duration"]))
		if err != nil || d < threshold {
			t.Errorf("slow read line with duration %v, want one above %s:\n%s", l.fields["duration"], threshold, l.raw)
		}
		for key, v := range l.fields {
			if !slices.Contains([]string{"@timestamp", "caller", "content", "duration", "level", "span", "trace", "request_id"}, key) {
				t.Errorf("slow read line with field %s=%v, want no fields beyond the read, its duration and the request's ids:\n%s", key, v, l.raw)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"institutions", "project", "reports"}) {
		t.Errorf("slow read lines of the request: %v, want one per read (project, institutions, reports)", names)
	}
	// The id is in the request's access line (its URI) and nowhere else;
	// what the reads returned is nowhere.
	onlyInAccessLines(t, lines, strconv.Itoa(id), "the project id")
	onlyInAccessLines(t, lines, "reports=37", "the reports argument")
	for _, l := range lines {
		if strings.Contains(l.raw, title) || strings.Contains(l.raw, "Slow Reads Sponsor") {
			t.Errorf("a value the reads returned is in the log:\n%s", l.raw)
		}
	}
}

// TestProcess_LogLinesAreBounded: requests with a ~20 KB URI and a ~20 KB
// User-Agent — within the deployed header bound (MaxHeaderBytes: 32 KiB,
// request line included), so the service answers and logs them — make no
// log line longer than 1 KiB; the access line shows both cut, with their
// full lengths ("...(N bytes)").
func TestProcess_LogLinesAreBounded(t *testing.T) {
	t.Parallel()
	const maxLine = 1024
	proc := startProcess(t, dbtest.ServiceUser(t, dbtest.NewDatabase(t, "sql/seed.sql")), "Log: {Level: debug}")
	long := func(prefix string, n int, fill string) string {
		return prefix + strings.Repeat(fill, n-len(prefix))
	}
	requests := []struct {
		uri, userAgent string
		status         int
	}{
		// reports=000…07 is reports=7: an answered request.
		{"/project/1?reports=" + strings.Repeat("0", 20_000) + "7", long("ua1/", 10_000, "u"), http.StatusOK},
		{long("/project/1?reports=7&", 20_000, "x") + "=1", "ua2/short", http.StatusBadRequest},
		{"/project/1?reports=7", long("ua3/", 20_000, "v"), http.StatusOK},
		{long("/no/such/route/", 16_000, "n"), long("ua4/", 16_000, "w"), http.StatusNotFound},
	}
	for _, r := range requests {
		if res := getAs(t, proc.URL+r.uri, r.userAgent); res.Status != r.status {
			t.Errorf("GET (%d-byte URI, %d-byte User-Agent): %d %.300s, want %d", len(r.uri), len(r.userAgent), res.Status, res.Body, r.status)
		}
	}
	for i := range requests {
		waitForAccessLines(t, proc, fmt.Sprintf(" - ua%d/", i+1), 1)
	}
	lines := logLines(proc.Logs())

	// The access line shows each long value cut, with its length.
	cut := func(s string) string {
		if len(s) <= 256 {
			return s
		}
		return fmt.Sprintf("%s...(%d bytes)", s[:256], len(s))
	}
	for _, r := range requests {
		want := fmt.Sprintf("[HTTP] %d - GET %s - ", r.status, cut(r.uri))
		found := false
		for _, l := range lines {
			if l.access() && strings.HasPrefix(l.content, want) && strings.HasSuffix(l.content, " - "+cut(r.userAgent)) {
				found = true
			}
		}
		if !found {
			t.Errorf("no access line %.400q ... %.400q", want, cut(r.userAgent))
		}
	}
	longest := 0
	for _, l := range lines {
		if len(l.raw) > maxLine {
			t.Errorf("a %d-byte log line (want at most %d): %.300s", len(l.raw), maxLine, l.raw)
		}
		longest = max(longest, len(l.raw))
	}
	t.Logf("longest log line: %d bytes", longest)
}
