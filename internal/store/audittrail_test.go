package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/internal/testing/fakes"
	"github.com/clinicaldata/projectsvc/model"
)

// table is a fake access_audit that behaves like MySQL in strict mode: a
// statement with a subject longer than 255 characters fails as a whole
// (Error 1406, Data too long), and nothing of it is kept.
type table struct {
	mu         sync.Mutex
	rows       []*model.AccessAudit
	statements int
	hang       chan struct{} // non-nil: statements wait for it (or their deadline)
	down       error         // non-nil: every statement fails with it
}

func (tb *table) insert(ctx context.Context, rows []*model.AccessAudit) error {
	tb.mu.Lock()
	hang, down := tb.hang, tb.down
	tb.statements++
	tb.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if down != nil {
		return down
	}
	for _, r := range rows {
		if len(r.Subject) > 255 {
			return &mysql.MySQLError{Number: 1406, SQLState: [5]byte{'2', '2', '0', '0', '1'}, Message: "Data too long for column 'subject'"}
		}
	}
	tb.mu.Lock()
	tb.rows = append(tb.rows, rows...)
	tb.mu.Unlock()
	return nil
}

func (tb *table) subjects() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var s []string
	for _, r := range tb.rows {
		s = append(s, r.Subject)
	}
	slices.Sort(s)
	return s
}

func newTrail(tb *table) *store.AuditTrail {
	return store.NewAuditTrail(fakes.AccessAudit(tb.insert), fakes.AccessAuditOutcome(func(context.Context, []*model.AccessAuditOutcome) error { return nil }))
}

func answer(subject string, projects int) []*model.AccessAudit {
	rows := make([]*model.AccessAudit, max(projects, 1))
	for i := range rows {
		rows[i] = &model.AccessAudit{RequestId: subject, Subject: subject, Status: 200}
	}
	return rows
}

func waitAll(t *testing.T, chans map[string]<-chan error) map[string]error {
	t.Helper()
	out := map[string]error{}
	for name, c := range chans {
		select {
		case err := <-c:
			out[name] = err
		case <-time.After(10 * time.Second):
			t.Fatalf("answer %s was never told how its rows went", name)
		}
	}
	return out
}

// TestAuditTrail_OneCallersBadFieldNeverFailsAnothersRows: a batch holding
// an over-long subject fails as a statement; the trail writes the others'
// rows anyway, answer by answer, and only the bad answer fails.
func TestAuditTrail_OneCallersBadFieldNeverFailsAnothersRows(t *testing.T) {
	gate := make(chan struct{})
	tb := &table{hang: gate}
	trail := newTrail(tb)
	defer trail.Close()
	// Hold both writers so that everything below lands in one batch.
	blockers := map[string]<-chan error{}
	for i := 1; i <= 2; i++ {
		blockers[fmt.Sprint(i)] = trail.AppendRows(answer(fmt.Sprintf("blocker-%d", i), 1))
		for tb.statementCount() < i {
			time.Sleep(time.Millisecond)
		}
	}
	long := fmt.Sprintf("%0300d", 7)
	pending := map[string]<-chan error{
		"good-1": trail.AppendRows(answer("good-1", 3)),
		"bad":    trail.AppendRows(answer(long, 2)),
		"good-2": trail.AppendRows(answer("good-2", 1)),
		"good-3": trail.AppendRows(answer("good-3", 2)),
	}
	close(gate)
	waitAll(t, blockers)
	for name, err := range waitAll(t, pending) {
		if (err != nil) != (name == "bad") {
			t.Fatalf("answer %s: %v (only the answer with the bad field may fail)", name, err)
		}
	}
	want := []string{"blocker-1", "blocker-2", "good-1", "good-1", "good-1", "good-2", "good-3", "good-3"}
	if got := tb.subjects(); !slices.Equal(got, want) {
		t.Fatalf("rows written %v, want %v (every good answer's rows, none of the bad one's)", got, want)
	}
}

func (tb *table) statementCount() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.statements
}

// TestAuditTrail_AServerErrorFailsTheWholeBatch: a failure that is not one
// row's value (the privilege revoked, the server gone) fails every answer
// of the statement, and is not retried row by row.
func TestAuditTrail_AServerErrorFailsTheWholeBatch(t *testing.T) {
	denied := &mysql.MySQLError{Number: 1142, SQLState: [5]byte{'4', '2', '0', '0', '0'}, Message: "INSERT command denied"}
	tb := &table{down: denied}
	trail := newTrail(tb)
	defer trail.Close()
	pending := map[string]<-chan error{}
	for i := range 5 {
		pending[fmt.Sprint(i)] = trail.AppendRows(answer(fmt.Sprint(i), 2))
	}
	for name, err := range waitAll(t, pending) {
		if !errors.Is(err, denied) {
			t.Fatalf("answer %s: %v, want the server's refusal", name, err)
		}
	}
	if n := tb.statementCount(); n > 5 {
		t.Fatalf("%d statements for 5 answers: a server error was retried row by row", n)
	}
}

// TestAuditTrail_AHangingInsertFailsWithinTheWriteTimeout: the database
// accepts the statement and never answers; the answer is told it failed
// (its request then answers 503) within the trail's write timeout.
func TestAuditTrail_AHangingInsertFailsWithinTheWriteTimeout(t *testing.T) {
	tb := &table{hang: make(chan struct{})}
	defer close(tb.hang)
	trail := newTrail(tb)
	defer trail.Close()
	start := time.Now()
	err := <-trail.AppendRows(answer("hangs", 1))
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the write's deadline", err)
	}
	if took < 1500*time.Millisecond || took > 4*time.Second {
		t.Fatalf("failed after %s, want at the 2 s write timeout", took)
	}
}

// TestAuditTrail_CloseWritesWhatWasHandedOverAndNeverHangs: answers hand
// their rows over while the trail closes. Every answer is told how its
// rows went (written, or refused because the trail had closed), every row
// handed over before Close is written, and Close returns. Run it with
// -count=300: two writers racing for the last queued rows once hung Close.
func TestAuditTrail_CloseWritesWhatWasHandedOverAndNeverHangs(t *testing.T) {
	tb := &table{}
	trail := newTrail(tb)
	const answers = 200
	results := make([]error, answers)
	var handedOver, all sync.WaitGroup
	closing := make(chan struct{})
	for i := range answers {
		early := i%2 == 0
		if early {
			handedOver.Add(1)
		}
		all.Go(func() {
			if !early {
				<-closing // these race with Close
			}
			done := trail.AppendRows(answer(fmt.Sprint(i), 1+i%3))
			if early {
				handedOver.Done()
			}
			select {
			case results[i] = <-done:
			case <-time.After(5 * time.Second):
				results[i] = errNeverAnswered
			}
		})
	}
	handedOver.Wait()
	closed := make(chan struct{})
	go func() {
		close(closing)
		trail.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung")
	}
	// Close returned: the rows handed over before it are in the table now.
	early := 0
	for i := 0; i < answers; i += 2 {
		early += 1 + i%3
	}
	if got := len(tb.subjects()); got < early {
		t.Fatalf("Close returned with %d rows in the table; the %d handed over before it must all be written", got, early)
	}
	all.Wait()
	written := 0
	for i, err := range results {
		switch {
		case errors.Is(err, errNeverAnswered):
			t.Fatalf("answer %d was never told how its rows went", i)
		case i%2 == 0 && err != nil:
			t.Fatalf("answer %d, handed over before Close: %v, want written", i, err)
		case err == nil:
			written += 1 + i%3
		}
	}
	if got := len(tb.subjects()); got != written {
		t.Fatalf("%d rows in the table, %d reported written", got, written)
	}
	if err := <-trail.AppendRows(answer("late", 1)); err == nil {
		t.Fatal("rows handed over after Close were accepted")
	}
}

var errNeverAnswered = errors.New("never answered")
