// Package processingfake holds in-memory fakes of the processing ports,
// for unit tests of the processor and the consumer.
package processingfake

import (
	"context"
	"sync"

	"github.com/salesplatform/libs/sales/domain"
	esmem "github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/idempotency"
	idemmem "github.com/salesplatform/libs/sales/idempotency/memory"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/processing"
)

// Lake is a conditional object store in memory.
type Lake struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	// Fail, when set, is called before each put; its error fails the put.
	Fail func(ctx context.Context, key string) error
}

var _ processing.Lake = (*Lake)(nil)

// NewLake returns an empty lake.
func NewLake() *Lake { return &Lake{objects: map[string][]byte{}} }

// Put implements processing.Lake.
func (l *Lake) Put(ctx context.Context, key string, body []byte) (bool, error) {
	if l.Fail != nil {
		if err := l.Fail(ctx, key); err != nil {
			return false, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.puts++
	if _, ok := l.objects[key]; ok {
		return false, nil
	}
	l.objects[key] = append([]byte(nil), body...)
	return true, nil
}

// Object returns a stored object.
func (l *Lake) Object(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.objects[key]
	return b, ok
}

// Len is the number of objects.
func (l *Lake) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.objects)
}

// Puts is the number of put attempts that reached the store.
func (l *Lake) Puts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.puts
}

// Committer completes a memory claim and appends to a memory event store
// atomically, like the DynamoDB transaction.
type Committer struct {
	Claims *idemmem.Store
	Events *esmem.Store
}

var _ processing.Committer = (*Committer)(nil)

// CompleteAndAppend implements processing.Committer.
func (c *Committer) CompleteAndAppend(ctx context.Context, claim idempotency.Claim, result string, e domain.Envelope) error {
	return c.Claims.CompleteWith(claim, result, func() error { return c.Events.Append(ctx, e) })
}

// State is a settable region state.
type State struct {
	mu sync.Mutex
	s  regionstate.State
}

// NewState starts at s.
func NewState(s regionstate.State) *State { return &State{s: s} }

// State implements processing.StateReader.
func (s *State) State() regionstate.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s
}

// Set changes the state.
func (s *State) Set(st regionstate.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s = st
}
