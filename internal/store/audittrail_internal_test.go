package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/model"
)

// statements is an access_audit and access_audit_outcome that records
// each INSERT's rows, can hold them (gate), and fails a statement holding
// a row whose subject is in bad with badErr (as MySQL refuses the whole
// statement).
type statements struct {
	model.AccessAuditModel
	mu       sync.Mutex
	sizes    []int // rows per statement, in order
	written  []string
	outcomes []uint64
	gate     chan struct{}
	entered  chan struct{}
	bad      map[string]bool
	badErr   error
}

func newStatements() *statements {
	return &statements{entered: make(chan struct{}, 1024), bad: map[string]bool{}}
}

func (s *statements) InsertAll(ctx context.Context, rows []*model.AccessAudit) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(rows))
	gate := s.gate
	s.mu.Unlock()
	s.entered <- struct{}{}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		if s.bad[r.Subject] {
			return s.badErr
		}
	}
	for _, r := range rows {
		s.written = append(s.written, r.Subject)
	}
	return nil
}

type outcomeTable struct {
	model.AccessAuditOutcomeModel
	s *statements
}

func (o outcomeTable) InsertAll(_ context.Context, outcomes []*model.AccessAuditOutcome) error {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	for _, x := range outcomes {
		o.s.outcomes = append(o.s.outcomes, x.Status)
	}
	return nil
}

// trail is a trail with one writer: what queues while it is held is then
// the next statement, whole, whatever the scheduling.
func (s *statements) trail(t *testing.T) *AuditTrail {
	tr := newAuditTrail(s, outcomeTable{s: s}, 1)
	t.Cleanup(tr.Close)
	return tr
}

// holdWriters makes every writer wait inside an INSERT, so that what is
// handed over next queues up; release lets them go.
func (s *statements) holdWriters(t *testing.T, tr *AuditTrail) (release func(), blockers []<-chan error) {
	t.Helper()
	s.mu.Lock()
	s.gate = make(chan struct{})
	gate := s.gate
	s.mu.Unlock()
	for i := range tr.writers {
		blockers = append(blockers, tr.AppendRows(rowsOf("blocker-"+strconv.Itoa(i), 1)))
		select {
		case <-s.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("a writer did not start its INSERT")
		}
	}
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}, blockers
}

func rowsOf(subject string, n int) []*model.AccessAudit {
	rows := make([]*model.AccessAudit, n)
	for i := range rows {
		rows[i] = &model.AccessAudit{RequestId: subject, Subject: subject, Status: 200}
	}
	return rows
}

func waitFor(t *testing.T, chans ...<-chan error) []error {
	t.Helper()
	out := make([]error, len(chans))
	for i, c := range chans {
		select {
		case out[i] = <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("answer %d was never told how its rows went", i)
		}
	}
	return out
}

// TestAuditTrail_WritersRunAtOnce: the trail runs auditWriters INSERTs at
// once (fewer made an answer's rows wait for a writer under latency), and
// what arrives while they all run is written after.
func TestAuditTrail_WritersRunAtOnce(t *testing.T) {
	s := newStatements()
	tr := NewAuditTrail(s, outcomeTable{s: s})
	t.Cleanup(tr.Close)
	if tr.writers != auditWriters {
		t.Fatalf("%d writers, want %d", tr.writers, auditWriters)
	}
	release, blockers := s.holdWriters(t, tr) // fails unless all run at once
	queued := tr.AppendRows(rowsOf("queued", 1))
	select {
	case <-s.entered:
		t.Fatal("an INSERT began while every writer was busy")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	for i, err := range waitFor(t, append(blockers, queued)...) {
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
}

// TestAuditTrail_AStatementCarriesAtMost64Answers: answers queued while
// the writers are busy share statements (group commit), 64 answers at
// most in one.
func TestAuditTrail_AStatementCarriesAtMost64Answers(t *testing.T) {
	s := newStatements()
	tr := s.trail(t)
	release, blockers := s.holdWriters(t, tr)
	var pending []<-chan error
	for i := range 130 {
		pending = append(pending, tr.AppendRows(rowsOf("a"+strconv.Itoa(i), 1)))
	}
	release()
	for i, err := range waitFor(t, append(blockers, pending...)...) {
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sizes := s.sizes[tr.writers:]
	if slices.Max(sizes) != auditMaxAnswers || len(s.written) != tr.writers+130 {
		t.Fatalf("statements of %v rows (%d written): want the 130 queued answers in statements of at most, and up to, 64", sizes, len(s.written))
	}
}

// TestAuditTrail_AStatementStopsTakingAnswersAt512Rows: a statement takes
// queued answers whole until it holds 512 rows.
func TestAuditTrail_AStatementStopsTakingAnswersAt512Rows(t *testing.T) {
	s := newStatements()
	tr := s.trail(t)
	release, blockers := s.holdWriters(t, tr)
	var pending []<-chan error
	for i := range 3 {
		pending = append(pending, tr.AppendRows(rowsOf("b"+strconv.Itoa(i), 256)))
	}
	release()
	waitFor(t, append(blockers, pending...)...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sizes := s.sizes[tr.writers:]; slices.Max(sizes) != auditMaxRows || len(s.written) != tr.writers+3*256 {
		t.Fatalf("statements of %v rows: want the three 256-row answers in statements of at most 512 rows", sizes)
	}
}

// TestAuditTrail_AStatementNeverGoesPast512Rows: an answer that would take
// a statement past 512 rows opens the next one instead (it went to 600
// rows: the bound was checked before an answer's rows were added), and no
// answer is split or lost.
func TestAuditTrail_AStatementNeverGoesPast512Rows(t *testing.T) {
	s := newStatements()
	tr := s.trail(t)
	release, blockers := s.holdWriters(t, tr)
	var pending []<-chan error
	for i := range 5 {
		pending = append(pending, tr.AppendRows(rowsOf("c"+strconv.Itoa(i), 200)))
	}
	release()
	for i, err := range waitFor(t, append(blockers, pending...)...) {
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sizes := s.sizes[tr.writers:]
	for _, n := range sizes {
		if n > auditMaxRows || n%200 != 0 {
			t.Fatalf("statements of %v rows: want whole 200-row answers, at most 512 rows a statement", sizes)
		}
	}
	if len(s.written) != tr.writers+5*200 {
		t.Fatalf("%d rows written, want %d", len(s.written), tr.writers+5*200)
	}
}

// TestAuditTrail_OutcomesAreWrittenToTheirOwnTable: an outcome handed over
// with rows goes to access_audit_outcome, never into access_audit.
func TestAuditTrail_OutcomesAreWrittenToTheirOwnTable(t *testing.T) {
	s := newStatements()
	tr := s.trail(t)
	release, blockers := s.holdWriters(t, tr)
	rows := tr.AppendRows(rowsOf("c", 2))
	outcome := tr.AppendOutcome(&model.AccessAuditOutcome{RequestId: "c", Status: 504})
	release()
	for i, err := range waitFor(t, append(blockers, rows, outcome)...) {
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.outcomes, []uint64{504}) || slices.Contains(s.sizes[tr.writers:], 3) || len(s.written) != tr.writers+2 {
		t.Fatalf("outcomes %v, statements %v: want the 504 in the outcome table, the rows apart", s.outcomes, s.sizes)
	}
}

// TestAuditTrail_OneAnswersBadValueFailsOnlyThatAnswer: MySQL's value
// errors (SQLSTATE 22xxx, 23xxx, and HY000 1366/1367) fail only the answer
// holding the value; a lone answer with a bad value fails in one
// statement, not retried.
func TestAuditTrail_OneAnswersBadValueFailsOnlyThatAnswer(t *testing.T) {
	for name, badErr := range map[string]error{
		"incorrectString": &mysql.MySQLError{Number: 1366, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}},
		"illegalValue":    &mysql.MySQLError{Number: 1367, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}},
		"duplicate":       &mysql.MySQLError{Number: 1062, SQLState: [5]byte{'2', '3', '0', '0', '0'}},
		"dataTooLong":     &mysql.MySQLError{Number: 1406, SQLState: [5]byte{'2', '2', '0', '0', '1'}},
	} {
		t.Run(name, func(t *testing.T) {
			s := newStatements()
			s.bad["bad"], s.badErr = true, badErr
			tr := s.trail(t)
			release, blockers := s.holdWriters(t, tr)
			good, bad := tr.AppendRows(rowsOf("good", 2)), tr.AppendRows(rowsOf("bad", 1))
			release()
			errs := waitFor(t, append(blockers, good, bad)...)
			if errs[len(blockers)] != nil || !errors.Is(errs[len(blockers)+1], badErr) {
				t.Fatalf("good answer: %v, bad answer: %v: want only the bad one failed", errs[len(blockers)], errs[len(blockers)+1])
			}
			s.mu.Lock()
			n := len(s.sizes)
			s.mu.Unlock()
			if err := waitFor(t, tr.AppendRows(rowsOf("bad", 1)))[0]; !errors.Is(err, badErr) {
				t.Fatalf("a lone bad answer: %v", err)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.sizes) != n+1 {
				t.Fatalf("a lone bad answer took %d statements, want 1", len(s.sizes)-n)
			}
		})
	}
	// Other server errors are no answer's fault: the batch fails whole.
	for name, serverErr := range map[string]error{
		"deniedHY000": &mysql.MySQLError{Number: 1142, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}},
		"notMySQL":    errors.New("connection reset"),
	} {
		t.Run("whole/"+name, func(t *testing.T) {
			s := newStatements()
			s.bad["bad"], s.badErr = true, serverErr
			tr := s.trail(t)
			release, blockers := s.holdWriters(t, tr)
			good, bad := tr.AppendRows(rowsOf("good", 2)), tr.AppendRows(rowsOf("bad", 1))
			release()
			errs := waitFor(t, append(blockers, good, bad)...)
			if !errors.Is(errs[len(blockers)], serverErr) || !errors.Is(errs[len(blockers)+1], serverErr) {
				t.Fatalf("good answer: %v, bad answer: %v: want both failed with the server's error", errs[len(blockers)], errs[len(blockers)+1])
			}
		})
	}
}

// TestAuditTrail_RowsAreCountedWrittenOrFailed: project_audit_rows_total
// counts each answer's rows (an outcome as one) by result.
func TestAuditTrail_RowsAreCountedWrittenOrFailed(t *testing.T) {
	s := newStatements()
	s.bad["bad"], s.badErr = true, errors.New("server gone")
	tr := s.trail(t)
	rows := func(result string) float64 {
		return counter(t, "project_audit_rows_total", map[string]string{"result": result})
	}
	written, failed := rows("written"), rows("failed")
	waitFor(t, tr.AppendRows(rowsOf("good", 3)))
	waitFor(t, tr.AppendOutcome(&model.AccessAuditOutcome{RequestId: "good", Status: 404}))
	waitFor(t, tr.AppendRows(rowsOf("bad", 2)))
	if w, f := rows("written")-written, rows("failed")-failed; w != 4 || f != 2 {
		t.Fatalf("counted %v written, %v failed: want 4 written (3 rows, 1 outcome), 2 failed", w, f)
	}
}
