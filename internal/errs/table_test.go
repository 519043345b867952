package errs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zeromicro/go-zero/core/logx"
	"github.com/zeromicro/go-zero/core/logx/logtest"
)

// TestCodes_AreEveryCodeAClientCanReceiveSorted: the codes the contract
// lists — every kind but canceled (nobody reads that answer).
func TestCodes_AreEveryCodeAClientCanReceiveSorted(t *testing.T) {
	want := []string{"header_too_large", "internal", "invalid_argument", "method_not_allowed", "not_found",
		"permission_denied", "resource_exhausted", "timeout", "unauthenticated", "unavailable"}
	if got := Codes(); !slices.Equal(got, want) {
		t.Fatalf("Codes() = %v, want %v", got, want)
	}
}

func TestNew_AnEmptyMessageIsTheKindsDefault(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:3306: connection refused")
	e := New(Unavailable, "", cause)
	if e.Message != "the service cannot reach its database right now; retry later" || !errors.Is(e, cause) {
		t.Fatalf("New(unavailable, \"\", cause) = %+v", e)
	}
	if e := New(NotFound, "project 7 does not exist", nil); e.Message != "project 7 does not exist" {
		t.Fatalf("a message of its own was replaced: %q", e.Message)
	}
	if e := Newf(InvalidArgument, "limit %d", 7); e.Message != "limit 7" || e.Err != nil || e.Code != InvalidArgument {
		t.Fatalf("Newf = %+v", e)
	}
}

// TestError_TheLogTextNamesCodeMessageAndCause: Error() is what the log
// reads: the cause only when there is one.
func TestError_TheLogTextNamesCodeMessageAndCause(t *testing.T) {
	if got := Newf(NotFound, "project %d does not exist", 7).Error(); got != "not_found: project 7 does not exist" {
		t.Fatalf("without a cause: %q", got)
	}
	if got := New(Internal, "", errors.New("boom")).Error(); got != "internal: internal error; it has been logged: boom" {
		t.Fatalf("with a cause: %q", got)
	}
}

func TestStatusAndCode_OfTheRefusalsBeforeTheLogic(t *testing.T) {
	for code, status := range map[Code]int{
		MethodNotAllowed: http.StatusMethodNotAllowed, ResourceExhausted: http.StatusTooManyRequests,
		HeaderTooLarge: http.StatusRequestHeaderFieldsTooLarge,
	} {
		if got := StatusOf(code); got != status {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, status)
		}
		if got := CodeOf(status); got != code {
			t.Errorf("CodeOf(%d) = %s, want %s", status, got, code)
		}
		if got := New(code, "", nil).Status(); got != status {
			t.Errorf("New(%s).Status() = %d, want %d", code, got, status)
		}
	}
	for status, code := range map[int]Code{499: Canceled, 501: Internal, 599: Internal, 400: InvalidArgument, 499 - 1: InvalidArgument} {
		if got := CodeOf(status); got != code {
			t.Errorf("CodeOf(%d) = %s, want %s", status, got, code)
		}
	}
}

// handleLogs runs Handle on err and returns the lines it logged.
func handleLogs(t *testing.T, err error) (int, []map[string]any) {
	t.Helper()
	buf := logtest.NewCollector(t)
	logx.SetLevel(logx.InfoLevel)
	status, _ := Handle(context.Background(), err)
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return status, lines
}

// TestHandle_LogsTheCauseOfServerSideFailuresOnly: a 5xx is logged with
// its code and cause (the client only reads the kind's message); a
// client's mistake is not.
func TestHandle_LogsTheCauseOfServerSideFailuresOnly(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		logged bool
	}{
		{New(Internal, "", errors.New("nil map write")), 500, true},
		{New(Unavailable, "", errors.New("connection refused")), 503, true},
		{context.DeadlineExceeded, 504, true},
		{Newf(NotFound, "project 7 does not exist"), 404, false},
		{Newf(InvalidArgument, "limit must be between 1 and 100"), 400, false},
		{context.Canceled, 499, false},
	} {
		status, lines := handleLogs(t, tc.err)
		if status != tc.status || (len(lines) == 1) != tc.logged || len(lines) > 1 {
			t.Fatalf("Handle(%v): %d with %d log lines, want %d logged=%v", tc.err, status, len(lines), tc.status, tc.logged)
		}
		if tc.logged {
			if l := lines[0]; l["content"] != "request failed" || l["level"] != "error" || l["code"] != string(Classify(tc.err).Code) ||
				!strings.Contains(l["error"].(string), tc.err.Error()) {
				t.Fatalf("Handle(%v) logged %v", tc.err, l)
			}
		}
	}
}

// TestInvalidRequest_QuotesAtMost40Characters: a value of 40 characters is
// quoted whole, a longer one cut to 40.
func TestInvalidRequest_QuotesAtMost40Characters(t *testing.T) {
	exact := "x" + strings.Repeat("7", maxEcho-1)
	_, err := strconv.ParseInt(exact, 10, 64)
	if got := InvalidRequest(err).Message; got != strconv.Quote(exact)+" is not a whole number" {
		t.Fatalf("40 characters: %q", got)
	}
	_, err = strconv.ParseInt(exact+"9", 10, 64)
	if got := InvalidRequest(err).Message; got != `"`+exact+`..." is not a whole number` {
		t.Fatalf("41 characters: %q", got)
	}
}
