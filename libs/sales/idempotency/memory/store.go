// Package memory is an in-process idempotency store for unit tests. It keeps
// the DynamoDB adapter's contract (see the acceptance suite in
// idempotencytest) without durability.
package memory

import (
	"context"
	"sync"

	"github.com/salesplatform/libs/sales/idempotency"
)

// Store is safe for concurrent use.
type Store struct {
	opts    idempotency.Options
	mu      sync.Mutex
	records map[string]idempotency.Record
}

var (
	_ idempotency.Store  = (*Store)(nil)
	_ idempotency.Stager = (*Store)(nil)
)

// New returns an empty store.
func New(o idempotency.Options) *Store {
	return &Store{opts: o.Defaults(), records: map[string]idempotency.Record{}}
}

// Claim implements idempotency.Store.
func (s *Store) Claim(_ context.Context, r idempotency.Request) (idempotency.Claim, error) {
	now := s.opts.Now()
	owner := s.opts.NewOwner()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := idempotency.Claim{Key: r.Key, PayloadHash: r.PayloadHash, Owner: owner, Region: s.opts.Region}
	var existing *idempotency.Record
	if rec, ok := s.records[r.Key]; ok {
		existing = &rec
	}
	outcome, takeOver := idempotency.Decide(existing, r, owner, now)
	c.Outcome = outcome
	if !takeOver {
		c.Existing = existing
		return c, nil
	}
	c.LeaseUntil = now.Add(s.opts.Lease)
	c.TookOver = existing != nil
	c.Existing = existing
	s.records[r.Key] = idempotency.Record{
		Key:         r.Key,
		Status:      idempotency.StatusInProgress,
		PayloadHash: r.PayloadHash,
		LeaseUntil:  c.LeaseUntil,
		ExpiresAt:   now.Add(s.opts.TTL),
		Region:      s.opts.Region,
		Owner:       owner,
	}
	return c, nil
}

// held returns the record when c still holds it. The caller holds mu.
func (s *Store) held(c idempotency.Claim) (idempotency.Record, error) {
	if c.Outcome != idempotency.Claimed {
		return idempotency.Record{}, idempotency.ErrNotClaimed
	}
	rec, ok := s.records[c.Key]
	if !ok || rec.Status != idempotency.StatusInProgress || rec.Owner != c.Owner {
		return idempotency.Record{}, idempotency.ErrClaimLost
	}
	return rec, nil
}

// Complete implements idempotency.Store.
func (s *Store) Complete(_ context.Context, c idempotency.Claim, result string) error {
	return s.CompleteWith(c, result, nil)
}

// CompleteWith completes c only if also succeeds, atomically with it: the
// memory counterpart of a DynamoDB transaction that completes the claim and
// writes something else. also runs under the store's lock.
func (s *Store) CompleteWith(c idempotency.Claim, result string, also func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.held(c)
	if err != nil {
		if rec2, ok := s.records[c.Key]; ok && rec2.Status == idempotency.StatusCompleted && rec2.Owner == c.Owner && c.Outcome == idempotency.Claimed {
			return nil // completed by this owner already: a retry
		}
		return err
	}
	if also != nil {
		if err := also(); err != nil {
			return err
		}
	}
	now := s.opts.Now()
	rec.Status = idempotency.StatusCompleted
	rec.Result = result
	rec.ExpiresAt = now.Add(s.opts.TTL)
	s.records[c.Key] = rec
	return nil
}

// Extend implements idempotency.Store.
func (s *Store) Extend(_ context.Context, c idempotency.Claim) (idempotency.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.held(c)
	if err != nil {
		return c, err
	}
	c.LeaseUntil = s.opts.Now().Add(s.opts.Lease)
	rec.LeaseUntil = c.LeaseUntil
	s.records[c.Key] = rec
	return c, nil
}

// Release implements idempotency.Store.
func (s *Store) Release(_ context.Context, c idempotency.Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.held(c); err != nil {
		if err == idempotency.ErrClaimLost {
			return nil
		}
		return err
	}
	delete(s.records, c.Key)
	return nil
}

// Lookup implements idempotency.Store.
func (s *Store) Lookup(_ context.Context, keys []string) (map[string]idempotency.Record, error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]idempotency.Record, len(keys))
	for _, k := range keys {
		if rec, ok := s.records[k]; ok && !rec.Expired(now) {
			out[k] = rec
		}
	}
	return out, nil
}

// Put implements idempotency.Stager.
func (s *Store) Put(_ context.Context, r idempotency.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[r.Key] = r
	return nil
}
