// Package stack describes a deployed system: per region, the names and
// addresses of its resources. The infrastructure writes it (terragrunt
// outputs, see infra/) and every operator command reads it, so no command
// guesses a queue URL or a table name.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
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
	// (prod); empty locally.
	EndpointGroupARN string `json:"endpoint_group_arn,omitempty"`
}

// Stack is the whole system.
type Stack struct {
	Regions map[string]Region `json:"regions"`
	// EdgeURL is the local edge's admin address (local stack only): it
	// stands in for Global Accelerator's traffic dials.
	EdgeURL string `json:"edge_url,omitempty"`
}

// Load reads a stack file.
func Load(path string) (*Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read stack description %s: %w (run the infrastructure outputs task first)", path, err)
	}
	var s Stack
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse stack description %s: %w", path, err)
	}
	if len(s.Regions) == 0 {
		return nil, fmt.Errorf("stack description %s lists no regions", path)
	}
	return &s, nil
}

// ErrUnknownRegion is returned for a region the stack does not have.
var ErrUnknownRegion = errors.New("unknown region")

// Region returns one region's resources.
func (s *Stack) Region(name string) (Region, error) {
	r, ok := s.Regions[name]
	if !ok {
		return Region{}, fmt.Errorf("%w %q (the stack has %v)", ErrUnknownRegion, name, s.RegionNames())
	}
	return r, nil
}

// RegionNames lists the regions, sorted.
func (s *Stack) RegionNames() []string {
	out := make([]string, 0, len(s.Regions))
	for k := range s.Regions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
