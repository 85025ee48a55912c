package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/salesplatform/libs/sales/atomicfile"
)

// ShardState is how far one shard has been handled.
type ShardState struct {
	// Sequence is the sequence number of the last record the handler
	// accepted (or that was skipped on purpose). Reading resumes after it.
	Sequence string `json:"sequence,omitempty"`
	// Finished means the shard is closed and every record of it was
	// handled: its children may start and it is never read again.
	Finished bool `json:"finished,omitempty"`
}

// Checkpoint stores shard states per stream, so a restarted reader resumes
// where the previous one stopped. Implementations must be safe for
// concurrent use (one goroutine per shard saves).
type Checkpoint interface {
	Load(ctx context.Context, streamARN string) (map[string]ShardState, error)
	Save(ctx context.Context, streamARN, shardID string, s ShardState) error
}

// MemoryCheckpoint keeps states in memory: for tests, and for one-off
// readers (a replay that need not survive a restart).
type MemoryCheckpoint struct {
	mu      sync.Mutex
	streams map[string]map[string]ShardState
}

// Load implements Checkpoint.
func (m *MemoryCheckpoint) Load(_ context.Context, streamARN string) (map[string]ShardState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.streams[streamARN]), nil
}

// Save implements Checkpoint.
func (m *MemoryCheckpoint) Save(_ context.Context, streamARN, shardID string, s ShardState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.streams == nil {
		m.streams = map[string]map[string]ShardState{}
	}
	if m.streams[streamARN] == nil {
		m.streams[streamARN] = map[string]ShardState{}
	}
	m.streams[streamARN][shardID] = s
	return nil
}

// FileCheckpoint keeps one JSON file per stream in Dir. Every save rewrites
// the file atomically (write a temporary file, fsync, rename over the old
// one, fsync the directory), so a crash leaves either the old or the new
// state, never a torn file.
type FileCheckpoint struct {
	Dir string

	mu     sync.Mutex
	loaded map[string]map[string]ShardState
}

type checkpointFile struct {
	StreamARN string                `json:"stream_arn"`
	UpdatedAt time.Time             `json:"updated_at"`
	Shards    map[string]ShardState `json:"shards"`
}

// Path is the file that holds streamARN's states. A stream ARN ends in
// its creation time, so a re-created table starts a fresh file.
func (f *FileCheckpoint) Path(streamARN string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, strings.TrimPrefix(streamARN, "arn:aws:dynamodb:"))
	return filepath.Join(f.Dir, name+".json")
}

// Load implements Checkpoint. A missing file is an empty state.
func (f *FileCheckpoint) Load(_ context.Context, streamARN string) (map[string]ShardState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	states, err := f.load(streamARN)
	return maps.Clone(states), err
}

func (f *FileCheckpoint) load(streamARN string) (map[string]ShardState, error) {
	if s, ok := f.loaded[streamARN]; ok {
		return s, nil
	}
	b, err := os.ReadFile(f.Path(streamARN))
	states := map[string]ShardState{}
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read checkpoint: %w", err)
	default:
		var cf checkpointFile
		if err := json.Unmarshal(b, &cf); err != nil {
			return nil, fmt.Errorf("checkpoint %s is corrupt: %w", f.Path(streamARN), err)
		}
		if cf.StreamARN != streamARN {
			return nil, fmt.Errorf("checkpoint %s belongs to stream %s, not %s", f.Path(streamARN), cf.StreamARN, streamARN)
		}
		if cf.Shards != nil {
			states = cf.Shards
		}
	}
	if f.loaded == nil {
		f.loaded = map[string]map[string]ShardState{}
	}
	f.loaded[streamARN] = states
	return states, nil
}

// Save implements Checkpoint.
func (f *FileCheckpoint) Save(_ context.Context, streamARN, shardID string, s ShardState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	states, err := f.load(streamARN)
	if err != nil {
		return err
	}
	next := maps.Clone(states)
	next[shardID] = s
	b, err := json.MarshalIndent(checkpointFile{StreamARN: streamARN, UpdatedAt: time.Now().UTC(), Shards: next}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.Path(streamARN), append(b, '\n')); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	f.loaded[streamARN] = next
	return nil
}
