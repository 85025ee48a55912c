package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// RegionOutputs are one region's resources, as the infrastructure's
// outputs task writes them (.local/infra/outputs.json).
type RegionOutputs struct {
	EventTable               string `json:"event_table"`
	EventStreamARN           string `json:"event_stream_arn"`
	IdempotencyTable         string `json:"idempotency_table"`
	TopicARN                 string `json:"topic_arn"`
	ProcessingQueueURL       string `json:"processing_queue_url"`
	ProcessingDLQURL         string `json:"processing_dlq_url"`
	PublisherFailureQueueURL string `json:"publisher_failure_queue_url"`
	LakeBucket               string `json:"lake_bucket"`
	RegionStateParameter     string `json:"region_state_parameter"`
	EndpointGroupARN         string `json:"endpoint_group_arn,omitempty"`
}

// Outputs is the stack description every tool reads (salesctl too).
type Outputs struct {
	Regions map[string]RegionOutputs `json:"regions"`
	// EdgeURL is the local edge's admin API (the traffic dials).
	EdgeURL string `json:"edge_url,omitempty"`
	// ReplicationURL is the replication stand-in's admin API.
	ReplicationURL string `json:"replication_url,omitempty"`
}

// RegionNames lists the regions, sorted.
func (o Outputs) RegionNames() []string {
	out := make([]string, 0, len(o.Regions))
	for r := range o.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Validate checks every field the local stack needs is there.
func (o Outputs) Validate(regions []string) error {
	for _, r := range regions {
		ro, ok := o.Regions[r]
		if !ok {
			return fmt.Errorf("outputs have no region %s", r)
		}
		for name, v := range map[string]string{
			"event_table": ro.EventTable, "idempotency_table": ro.IdempotencyTable, "topic_arn": ro.TopicARN,
			"processing_queue_url": ro.ProcessingQueueURL, "processing_dlq_url": ro.ProcessingDLQURL,
			"lake_bucket": ro.LakeBucket, "region_state_parameter": ro.RegionStateParameter,
		} {
			if v == "" {
				return fmt.Errorf("outputs of %s lack %s", r, name)
			}
		}
	}
	return nil
}

// LoadOutputs reads a stack description.
func LoadOutputs(path string) (Outputs, error) {
	var o Outputs
	b, err := os.ReadFile(path)
	if err != nil {
		return o, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("parse %s: %w", path, err)
	}
	return o, nil
}

// Save writes the description atomically.
func (o Outputs) Save(path string) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
