package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// checkpointVersion is the layout of the checkpoint file.
const checkpointVersion = 1

// State is the content of a checkpoint file: where every lane of a run
// stands, what is being published right now, and the totals so far.
//
// The invariant that makes resuming safe: an event is listed in a lane's
// Done (or lies before its Cursor) only after the publisher accepted it,
// and it is listed in Inflight before the publish call starts. After a
// crash, Done events are skipped, Inflight events are published again and
// counted as duplicates (they may have reached SNS), and everything else
// is published for the first time.
type State struct {
	Version int `json:"version"`
	// Command and Selection identify the run ("replay store" and the
	// canonical form of its arguments); a resume with other arguments is
	// refused rather than silently mixing two selections.
	Command   string    `json:"command"`
	Selection string    `json:"selection"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Runs counts the runs that used this file (1 on the first).
	Runs  int              `json:"runs"`
	Lanes map[string]*Lane `json:"lanes"`
	// Counts are the totals of everything committed (before the lanes'
	// cursors); Done entries are added on load.
	Counts Counts `json:"counts"`
	// Failures lists the events given up as failed (the first
	// maxFailures).
	Failures []Failure `json:"failures,omitempty"`
	// Extra holds command-specific facts that must survive a resume (the
	// reprocessing generation, a message move task's handle).
	Extra map[string]string `json:"extra,omitempty"`
}

// Lane is one sequential part of a run (a Scan segment, a stream shard,
// the list of sale ids, a queue).
type Lane struct {
	// Cursor is the source's position: everything before it is done.
	Cursor json.RawMessage `json:"cursor,omitempty"`
	// Finished lanes are never read again.
	Finished bool `json:"finished,omitempty"`
	// Done lists the ids handled after Cursor (published, or given up).
	Done []string `json:"done,omitempty"`
	// DoneCounts are the counts of the Done items.
	DoneCounts *Counts `json:"done_counts,omitempty"`
	// Inflight lists the ids whose publish call may have started.
	Inflight []string `json:"inflight,omitempty"`
}

// Failure is one event given up.
type Failure struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// maxFailures bounds the failures kept in the file and the summary.
const maxFailures = 100

// Counts are a run's totals.
type Counts struct {
	// Read is every item the source produced (records, items, messages).
	Read int64 `json:"read"`
	// Published counts events accepted by SNS (or messages sent to the
	// target queue), duplicates included.
	Published int64 `json:"published"`
	// Skipped counts items deliberately not published, by reason.
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Failed counts items given up.
	Failed int64 `json:"failed"`
	// Duplicates counts items published again because an earlier run (or
	// an earlier attempt) may already have published them.
	Duplicates int64 `json:"duplicates"`
}

// SkippedTotal sums Skipped.
func (c Counts) SkippedTotal() int64 {
	var n int64
	for _, v := range c.Skipped {
		n += v
	}
	return n
}

func (c *Counts) add(o Counts) {
	c.Read += o.Read
	c.Published += o.Published
	c.Failed += o.Failed
	c.Duplicates += o.Duplicates
	for k, v := range o.Skipped {
		if v == 0 {
			continue
		}
		if c.Skipped == nil {
			c.Skipped = map[string]int64{}
		}
		c.Skipped[k] += v
	}
}

func (c Counts) clone() Counts {
	out := c
	out.Skipped = nil
	out.add(Counts{Skipped: c.Skipped})
	return out
}

// ErrCheckpointMismatch is a checkpoint written by another command or
// selection.
var ErrCheckpointMismatch = errors.New("checkpoint belongs to another run")

// loadState reads a checkpoint file; a missing file is (nil, nil).
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the checkpoint file on the command line
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("checkpoint %s is not a salesctl checkpoint (corrupt or foreign): %w", path, err)
	}
	if s.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s has layout version %d, this salesctl reads %d", path, s.Version, checkpointVersion)
	}
	if s.Lanes == nil {
		s.Lanes = map[string]*Lane{}
	}
	return &s, nil
}
