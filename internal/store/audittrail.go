package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/clinicaldata/projectsvc/model"
)

const (
	// auditWriteTimeout bounds one INSERT of the trail.
	auditWriteTimeout = 2 * time.Second
	// auditWriters INSERTs may run at once; rows arriving while they run
	// wait for the next one, so under load one statement carries many
	// answers' rows (group commit). With 2, at 8 clients behind 20 ms of
	// latency the writers were ~80% busy and an answer's rows waited for
	// one: 1.86 round trips per record instead of ~1 (make bench,
	// auditRoundTrips); at 8 a row rarely waits.
	auditWriters = 8
	// auditMaxAnswers and auditMaxRows bound one statement (an answer
	// with more rows than auditMaxRows is a statement of its own).
	auditMaxAnswers = 64
	auditMaxRows    = 512
	// auditQueue answers may wait for a writer; past that, handing rows
	// over waits up to auditWriteTimeout for room, then fails (503).
	auditQueue = 4 * auditMaxAnswers
)

var (
	errAuditClosed = errors.New("audit: the trail is closed")
	errAuditFull   = errors.New("audit: the trail's queue stayed full (the database does not keep up)")
)

// AuditTrail appends to access_audit and access_audit_outcome on the
// primary with group commit: each answer hands its rows over and is told
// when the statement carrying them has committed (or failed). An idle trail
// writes at once; a busy one batches what arrives during an INSERT into the
// next one. One answer's rows are committed together or not at all, and
// another answer's bad value (a data error) never fails them: a batch that
// fails on a value is written again answer by answer.
type AuditTrail struct {
	rows     model.AccessAuditModel
	outcomes model.AccessAuditOutcomeModel
	queue    chan auditEntry
	writers  int

	mu     sync.RWMutex // held for reading while handing over, for writing by Close
	closed bool
	wg     sync.WaitGroup
}

// auditEntry is one answer's rows, or its outcome.
type auditEntry struct {
	rows    []*model.AccessAudit
	outcome *model.AccessAuditOutcome
	done    chan error
}

// NewAuditTrail starts the trail's writers over the primary's models; Close
// stops them.
func NewAuditTrail(rows model.AccessAuditModel, outcomes model.AccessAuditOutcomeModel) *AuditTrail {
	return newAuditTrail(rows, outcomes, auditWriters)
}

func newAuditTrail(rows model.AccessAuditModel, outcomes model.AccessAuditOutcomeModel, writers int) *AuditTrail {
	t := &AuditTrail{rows: rows, outcomes: outcomes, queue: make(chan auditEntry, auditQueue), writers: writers}
	t.wg.Add(writers)
	for range writers {
		go t.write()
	}
	return t
}

// AppendRows hands one answer's rows over; the channel receives nil once
// they are committed.
func (t *AuditTrail) AppendRows(rows []*model.AccessAudit) <-chan error {
	return t.hand(auditEntry{rows: rows, done: make(chan error, 1)})
}

// AppendOutcome hands one answer's outcome over; the channel receives nil
// once it is committed.
func (t *AuditTrail) AppendOutcome(o *model.AccessAuditOutcome) <-chan error {
	return t.hand(auditEntry{outcome: o, done: make(chan error, 1)})
}

func (t *AuditTrail) hand(e auditEntry) <-chan error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		e.done <- errAuditClosed
		return e.done
	}
	select {
	case t.queue <- e:
		return e.done
	default:
	}
	full := time.NewTimer(auditWriteTimeout)
	defer full.Stop()
	select {
	case t.queue <- e:
	case <-full.C:
		e.done <- errAuditFull
	}
	return e.done
}

// Close stops the writers once everything handed over is written; what is
// handed over afterwards fails at once. Call it after the HTTP server has
// drained (no answer is waiting), before the pool closes.
func (t *AuditTrail) Close() {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.queue)
	}
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *AuditTrail) write() {
	defer t.wg.Done()
	batch := make([]auditEntry, 0, auditMaxAnswers)
	var next *auditEntry // taken from the queue, but past the last batch's bound
	for {
		var e auditEntry
		if next != nil {
			e, next = *next, nil
		} else {
			var ok bool
			if e, ok = <-t.queue; !ok { // closed, and drained
				return
			}
		}
		batch = append(batch[:0], e)
		n := len(e.rows)
	fill:
		for len(batch) < auditMaxAnswers && n < auditMaxRows {
			select {
			case e, ok := <-t.queue:
				if !ok {
					break fill
				}
				if n+len(e.rows) > auditMaxRows {
					next = &e // the next statement's first
					break fill
				}
				batch = append(batch, e)
				n += len(e.rows)
			default:
				break fill
			}
		}
		t.commit(batch)
	}
}

// commit writes a batch: the rows in one statement, the outcomes in
// another, and tells each answer how its own went.
func (t *AuditTrail) commit(batch []auditEntry) {
	var rows, outcomes []auditEntry
	for _, e := range batch {
		if e.outcome != nil {
			outcomes = append(outcomes, e)
		} else {
			rows = append(rows, e)
		}
	}
	insertIsolated(rows, func(ctx context.Context, es []auditEntry) error {
		all := make([]*model.AccessAudit, 0, len(es))
		for _, e := range es {
			all = append(all, e.rows...)
		}
		return t.rows.InsertAll(ctx, all)
	})
	insertIsolated(outcomes, func(ctx context.Context, es []auditEntry) error {
		all := make([]*model.AccessAuditOutcome, len(es))
		for i, e := range es {
			all[i] = e.outcome
		}
		return t.outcomes.InsertAll(ctx, all)
	})
	n := len(outcomes)
	for _, e := range rows {
		n += len(e.rows)
	}
	metricAuditBatch.Observe(int64(n))
}

// insertIsolated writes entries with one statement; if it fails on a value
// (one answer's bad field), each entry is written on its own, so only the
// answers whose own rows are bad fail.
func insertIsolated(entries []auditEntry, insert func(context.Context, []auditEntry) error) {
	if len(entries) == 0 {
		return
	}
	err := insertWithin(insert, entries)
	if err != nil && len(entries) > 1 && isDataError(err) {
		for _, e := range entries {
			finishEntry(e, insertWithin(insert, []auditEntry{e}))
		}
		return
	}
	for _, e := range entries {
		finishEntry(e, err)
	}
}

func insertWithin(insert func(context.Context, []auditEntry) error, entries []auditEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), auditWriteTimeout)
	defer cancel()
	return insert(ctx, entries)
}

func finishEntry(e auditEntry, err error) {
	n := max(len(e.rows), 1)
	if err != nil {
		metricAuditRows.Add(float64(n), "failed")
	} else {
		metricAuditRows.Add(float64(n), "written")
	}
	e.done <- err
}

// isDataError: the statement failed on a value of one of its rows (SQLSTATE
// class 22, data exception, or 23, integrity constraint; MySQL's incorrect
// string value, 1366, is HY000), not because of the server or the network.
func isDataError(err error) bool {
	var myErr *mysql.MySQLError
	if !errors.As(err, &myErr) {
		return false
	}
	switch string(myErr.SQLState[:2]) {
	case "22", "23":
		return true
	}
	return myErr.Number == 1366 || myErr.Number == 1367
}
