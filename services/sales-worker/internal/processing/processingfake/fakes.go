// Package processingfake holds in-memory fakes of the processing ports,
// for unit tests of the processor and the consumer.
package processingfake

import (
	"bytes"
	"context"
	"sync"

	"github.com/salesplatform/libs/sales/domain"
	esmem "github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/idempotency"
	idemmem "github.com/salesplatform/libs/sales/idempotency/memory"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/processing"
)

// Lake is the lake in memory, with lake.Writer's merge semantics.
type Lake struct {
	mu       sync.Mutex
	objects  map[string][]byte
	versions map[string]int
	puts     int
	// Fail, when set, is called before each write; its error fails it.
	Fail func(ctx context.Context, key string) error
}

var _ processing.Lake = (*Lake)(nil)

// NewLake returns an empty lake.
func NewLake() *Lake { return &Lake{objects: map[string][]byte{}, versions: map[string]int{}} }

// Merge implements processing.Lake like lake.Writer.Merge: the key ends
// holding the earliest version of the operation.
func (l *Lake) Merge(ctx context.Context, e domain.Envelope, generation int) (lake.Merged, error) {
	key, err := lake.ObjectKey(e, generation)
	if err != nil {
		return lake.Merged{}, err
	}
	body, err := lake.Content(e)
	if err != nil {
		return lake.Merged{}, err
	}
	if l.Fail != nil {
		if err := l.Fail(ctx, key); err != nil {
			return lake.Merged{Key: key}, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.puts++
	stored, ok := l.objects[key]
	switch {
	case !ok:
		l.put(key, body)
		return lake.Merged{Key: key, Outcome: lake.Written}, nil
	case bytes.Equal(stored, body):
		return lake.Merged{Key: key, Outcome: lake.Present}, nil
	}
	other, err := lake.ParseRecord(stored)
	if err != nil {
		return lake.Merged{Key: key}, err
	}
	if !domain.Earlier(e, other) {
		return lake.Merged{Key: key, Outcome: lake.KeptOther, Other: &other}, nil
	}
	l.put(key, body)
	return lake.Merged{Key: key, Outcome: lake.Replaced, Other: &other}, nil
}

// RecordConflict implements processing.Lake.
func (l *Lake) RecordConflict(_ context.Context, a, b domain.Envelope) (string, error) {
	key := lake.ConflictKey(a)
	body, err := lake.ConflictContent(a, b)
	if err != nil {
		return key, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.objects[key]; !ok {
		l.put(key, body)
	}
	return key, nil
}

func (l *Lake) put(key string, body []byte) {
	l.objects[key] = append([]byte(nil), body...)
	l.versions[key]++
}

// Versions is the number of times key was written.
func (l *Lake) Versions(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.versions[key]
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
