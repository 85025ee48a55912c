// Package stack is the description of a deployed system: per region, the
// names and addresses of its resources. The infrastructure writes it
// (`task outputs`, `task infra:local:outputs`) and every tool reads it —
// the operator CLI, the local stack, the infrastructure tests — so no tool
// guesses a queue URL or a table name.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/salesplatform/libs/sales/atomicfile"
)

// Region is one region's resources. Field names match the JSON keys the
// infrastructure writes (.local/infra/outputs.json locally).
type Region struct {
	EventTable               string `json:"event_table"`
	EventStreamARN           string `json:"event_stream_arn"`
	IdempotencyTable         string `json:"idempotency_table"`
	TopicARN                 string `json:"topic_arn"`
	ProcessingQueueURL       string `json:"processing_queue_url"`
	ProcessingDLQURL         string `json:"processing_dlq_url"`
	PublisherFailureQueueURL string `json:"publisher_failure_queue_url"`
	LakeBucket               string `json:"lake_bucket"`
	RegionStateParameter     string `json:"region_state_parameter"`
	// EndpointGroupARN is the region's Global Accelerator endpoint group
	// (the traffic dial a failover moves), from the global routing unit;
	// empty where there is none (local).
	EndpointGroupARN string `json:"endpoint_group_arn,omitempty"`
}

// Stack is the whole system.
type Stack struct {
	Regions map[string]Region `json:"regions"`
	// EdgeURL is the local edge's admin address (local stack only): it
	// stands in for Global Accelerator's traffic dials.
	EdgeURL string `json:"edge_url,omitempty"`
	// ReplicationURL is the replication stand-in's admin API (local only).
	ReplicationURL string `json:"replication_url,omitempty"`
}

// Load reads a stack file; one that lists no region is an error.
func Load(path string) (Stack, error) {
	var s Stack
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the stack file
	if err != nil {
		return s, fmt.Errorf("read stack description %s: %w (run the infrastructure outputs task first)", path, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse stack description %s: %w", path, err)
	}
	if len(s.Regions) == 0 {
		return s, fmt.Errorf("stack description %s lists no regions", path)
	}
	return s, nil
}

// Save writes the description as indented JSON, atomically (a reader never
// sees half a file).
func (s Stack) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// ErrUnknownRegion is returned for a region the stack does not have.
var ErrUnknownRegion = errors.New("unknown region")

// Region returns one region's resources.
func (s Stack) Region(name string) (Region, error) {
	r, ok := s.Regions[name]
	if !ok {
		return Region{}, fmt.Errorf("%w %q (the stack has %v)", ErrUnknownRegion, name, s.RegionNames())
	}
	return r, nil
}

// RegionNames lists the regions, sorted.
func (s Stack) RegionNames() []string {
	out := make([]string, 0, len(s.Regions))
	for k := range s.Regions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validate checks that every region in regions is described with every
// resource the data path needs.
func (s Stack) Validate(regions []string) error {
	for _, r := range regions {
		ro, ok := s.Regions[r]
		if !ok {
			return fmt.Errorf("%w %q in the stack description", ErrUnknownRegion, r)
		}
		for _, f := range []struct{ name, v string }{
			{"event_table", ro.EventTable}, {"idempotency_table", ro.IdempotencyTable}, {"topic_arn", ro.TopicARN},
			{"processing_queue_url", ro.ProcessingQueueURL}, {"processing_dlq_url", ro.ProcessingDLQURL},
			{"lake_bucket", ro.LakeBucket}, {"region_state_parameter", ro.RegionStateParameter},
		} {
			if f.v == "" {
				return fmt.Errorf("stack description of %s lacks %s", r, f.name)
			}
		}
	}
	return nil
}
