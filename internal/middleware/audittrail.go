package middleware

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clinicaldata/projectsvc/model"
)

const (
	// auditWriteTimeout bounds one audit INSERT, and how long a request waits
	// for its row (the request's own deadline may have passed already: a
	// 504 is audited too).
	auditWriteTimeout = 2 * time.Second
	// auditWriters INSERTs may run at once; rows arriving while they run
	// wait for the next one, so under load one statement carries many rows.
	auditWriters = 2
	// auditMaxBatch rows at most per INSERT.
	auditMaxBatch = 64
)

var errAuditClosed = errors.New("audit: the trail is closed")

// AuditTrail appends rows to access_audit with group commit: each request
// hands its row over and waits until the INSERT that carries it has
// committed (or failed). An idle trail writes a row at once; a busy one
// batches the rows that arrive during an INSERT into the next one, so the
// database sees one statement for many requests and no request waits for
// a batch to fill.
type AuditTrail struct {
	model model.AccessAuditModel
	queue chan auditEntry
	stop  chan struct{}
	wg    sync.WaitGroup
}

type auditEntry struct {
	row  *model.AccessAudit
	done chan error
}

// NewAuditTrail starts the trail's writers; Close stops them.
func NewAuditTrail(m model.AccessAuditModel) *AuditTrail {
	t := &AuditTrail{model: m, queue: make(chan auditEntry, 4*auditMaxBatch), stop: make(chan struct{})}
	t.wg.Add(auditWriters)
	for range auditWriters {
		go t.write()
	}
	return t
}

// Record writes row and returns once it is committed; any error means it
// is not (as far as the service can know), and the request must not send
// the record.
func (t *AuditTrail) Record(ctx context.Context, row *model.AccessAudit) error {
	e := auditEntry{row: row, done: make(chan error, 1)}
	select {
	case t.queue <- e:
	case <-t.stop:
		return errAuditClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the writers once the rows already handed over are written.
// Call it after the HTTP server has drained, before the pool closes.
func (t *AuditTrail) Close() {
	close(t.stop)
	t.wg.Wait()
}

func (t *AuditTrail) write() {
	defer t.wg.Done()
	batch := make([]auditEntry, 0, auditMaxBatch)
	rows := make([]*model.AccessAudit, 0, auditMaxBatch)
	for {
		select {
		case e := <-t.queue:
			batch = append(batch[:0], e)
		case <-t.stop:
			if len(t.queue) == 0 {
				return
			}
			batch = append(batch[:0], <-t.queue)
		}
	fill:
		for len(batch) < auditMaxBatch {
			select {
			case e := <-t.queue:
				batch = append(batch, e)
			default:
				break fill
			}
		}
		rows = rows[:0]
		for _, e := range batch {
			rows = append(rows, e.row)
		}
		ctx, cancel := context.WithTimeout(context.Background(), auditWriteTimeout)
		err := t.model.InsertAll(ctx, rows)
		cancel()
		metricAuditBatch.Observe(int64(len(rows)))
		result := "written"
		if err != nil {
			result = "failed"
		}
		metricAuditWrites.Add(float64(len(rows)), result)
		for _, e := range batch {
			e.done <- err
		}
	}
}
