package fakes

import (
	"context"
	"sync"

	"github.com/clinicaldata/projectsvc/internal/store"
	"github.com/clinicaldata/projectsvc/model"
)

// AuditTable is an in-memory access_audit and access_audit_outcome: the
// rows the real audit trail (store.AuditTrail) commits, and a switch to
// make its INSERTs fail or hang.
type AuditTable struct {
	mu       sync.Mutex
	rows     []*model.AccessAudit
	outcomes []*model.AccessAuditOutcome
	fail     error
	hold     chan struct{} // non-nil: INSERTs wait until it closes (or their deadline)
}

// Install puts the table in place of the primary's audit models
// (store.WithModels(table.Install)).
func (a *AuditTable) Install(m *store.Models) {
	m.AccessAudit = AccessAudit(a.insertRows)
	m.AccessAuditOutcome = AccessAuditOutcome(a.insertOutcomes)
}

func (a *AuditTable) insertRows(ctx context.Context, rows []*model.AccessAudit) error {
	if err := a.gate(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rows = append(a.rows, rows...)
	return nil
}

func (a *AuditTable) insertOutcomes(ctx context.Context, outcomes []*model.AccessAuditOutcome) error {
	if err := a.gate(ctx); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes = append(a.outcomes, outcomes...)
	return nil
}

// gate makes an INSERT fail or wait, as FailWith and Hold set.
func (a *AuditTable) gate(ctx context.Context) error {
	a.mu.Lock()
	fail, hold := a.fail, a.hold
	a.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fail
}

// Take returns the rows committed so far, each with the status its client
// received (its request's outcome, where one was written), and forgets
// rows and outcomes.
func (a *AuditTable) Take() []*model.AccessAudit {
	a.mu.Lock()
	defer a.mu.Unlock()
	received := map[string]uint64{}
	for _, o := range a.outcomes {
		received[o.RequestId] = o.Status
	}
	out := make([]*model.AccessAudit, len(a.rows))
	for i, r := range a.rows {
		row := *r
		if status, ok := received[r.RequestId]; ok {
			row.Status = status
		}
		out[i] = &row
	}
	a.rows, a.outcomes = nil, nil
	return out
}

// TakeOutcomes returns the outcomes committed so far and forgets them.
func (a *AuditTable) TakeOutcomes() []*model.AccessAuditOutcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	o := a.outcomes
	a.outcomes = nil
	return o
}

// FailWith makes every INSERT fail with err (nil: succeed again).
func (a *AuditTable) FailWith(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// Hold makes every INSERT wait (until its deadline) until the returned
// function is called.
func (a *AuditTable) Hold() (release func()) {
	hold := make(chan struct{})
	a.mu.Lock()
	a.hold = hold
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.hold = nil
			a.mu.Unlock()
			close(hold)
		})
	}
}
