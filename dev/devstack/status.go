package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/regionstate"
)

// ProcInfo is a process as the status shows it.
type ProcInfo struct {
	Name     string `json:"name"`
	Region   string `json:"region,omitempty"`
	PID      int    `json:"pid"`
	ReadyURL string `json:"ready_url,omitempty"`
	LogPath  string `json:"log"`
	Running  bool   `json:"running"`
	Health   string `json:"health"`
}

// QueueDepth is a queue's approximate message counts.
type QueueDepth struct {
	Visible  int `json:"visible"`
	InFlight int `json:"in_flight"`
	Delayed  int `json:"delayed"`
}

// RegionStatus is one region's view.
type RegionStatus struct {
	Region          string     `json:"region"`
	State           string     `json:"state"`
	Dial            *int       `json:"dial,omitempty"`
	EdgeHealthy     *bool      `json:"edge_healthy,omitempty"`
	Processing      QueueDepth `json:"processing_queue"`
	DLQ             QueueDepth `json:"dlq"`
	PublisherDLQ    QueueDepth `json:"publisher_dlq"`
	LakeSales       int        `json:"lake_sales"`
	LakeCancels     int        `json:"lake_cancellations"`
	LakeObjects     int        `json:"lake_objects"`
	Errors          []string   `json:"errors,omitempty"`
	ReplicationNote string     `json:"-"`
}

// Status is the whole stack's status.
type Status struct {
	Regions     []RegionStatus  `json:"regions"`
	Processes   []ProcInfo      `json:"processes"`
	Replication json.RawMessage `json:"replication,omitempty"`
	Endpoints   Endpoints       `json:"endpoints"`
}

// CollectStatus asks the emulator, the processes and the stand-ins.
func CollectStatus(ctx context.Context, c *Clients, ep Endpoints, procs []ProcInfo) Status {
	st := Status{Endpoints: ep}
	dials := edgeDials(ctx, ep.EdgeAdmin)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, region := range c.Outputs.RegionNames() {
		wg.Go(func() {
			rs := regionStatus(ctx, c, region)
			if d, ok := dials[region]; ok {
				dial, healthy := d.Dial, d.Healthy
				rs.Dial, rs.EdgeHealthy = &dial, &healthy
			}
			mu.Lock()
			st.Regions = append(st.Regions, rs)
			mu.Unlock()
		})
	}
	for i := range procs {
		wg.Go(func() {
			p := &procs[i]
			switch {
			case !p.Running:
				p.Health = "DEAD"
			case p.ReadyURL == "":
				p.Health = "running"
			default:
				p.Health = probe(ctx, p.ReadyURL)
			}
		})
	}
	wg.Go(func() {
		if b, err := httpGet(ctx, ep.Replication+"/status"); err == nil {
			st.Replication = b
		}
	})
	wg.Wait()
	st.Processes = procs
	sort.Slice(st.Regions, func(i, j int) bool { return st.Regions[i].Region < st.Regions[j].Region })
	return st
}

func regionStatus(ctx context.Context, c *Clients, region string) RegionStatus {
	ro := c.Outputs.Regions[region]
	rs := RegionStatus{Region: region, State: string(regionstate.Unknown)}
	fail := func(what string, err error) { rs.Errors = append(rs.Errors, what+": "+err.Error()) }
	if s, err := (regionstate.SSM{Client: c.SSM[region], Name: ro.RegionStateParameter}).Get(ctx); err == nil {
		rs.State = string(s)
	} else {
		fail("region state", err)
	}
	var err error
	if rs.Processing, err = queueDepth(ctx, c.SQS[region], ro.ProcessingQueueURL); err != nil {
		fail("processing queue", err)
	}
	if rs.DLQ, err = queueDepth(ctx, c.SQS[region], ro.ProcessingDLQURL); err != nil {
		fail("dlq", err)
	}
	if ro.PublisherFailureQueueURL != "" {
		if rs.PublisherDLQ, err = queueDepth(ctx, c.SQS[region], ro.PublisherFailureQueueURL); err != nil {
			fail("publisher dlq", err)
		}
	}
	keys, err := LakeKeys(ctx, c.S3[region], ro.LakeBucket, "")
	if err != nil {
		fail("lake", err)
	}
	rs.LakeObjects = len(keys)
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "sales/"):
			rs.LakeSales++
		case strings.HasPrefix(k, "cancellations/"):
			rs.LakeCancels++
		}
	}
	return rs
}

func queueDepth(ctx context.Context, client *sqs.Client, url string) (QueueDepth, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		return QueueDepth{}, err
	}
	n := func(k sqstypes.QueueAttributeName) int { v, _ := strconv.Atoi(out.Attributes[string(k)]); return v }
	return QueueDepth{
		Visible:  n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}

// LakeKeys lists every object key under prefix.
func LakeKeys(ctx context.Context, client *s3.Client, bucket, prefix string) ([]string, error) {
	var keys []string
	var token *string
	for range 1000 {
		in := &s3.ListObjectsV2Input{Bucket: &bucket, ContinuationToken: token}
		if prefix != "" {
			in.Prefix = &prefix
		}
		out, err := client.ListObjectsV2(ctx, in)
		if err != nil {
			return keys, err
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		token = out.NextContinuationToken
	}
	return keys, nil
}

type edgeRegion struct {
	Region  string `json:"region"`
	Dial    int    `json:"dial"`
	Healthy bool   `json:"healthy"`
}

func edgeDials(ctx context.Context, adminURL string) map[string]edgeRegion {
	out := map[string]edgeRegion{}
	b, err := httpGet(ctx, adminURL+"/dials")
	if err != nil {
		return out
	}
	var d struct {
		Regions []edgeRegion `json:"regions"`
	}
	if json.Unmarshal(b, &d) == nil {
		for _, r := range d.Regions {
			out[r.Region] = r
		}
	}
	return out
}

var statusClient = &http.Client{Timeout: 2 * time.Second}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return b, err
}

func probe(ctx context.Context, url string) string {
	if _, err := httpGet(ctx, url); err != nil {
		return "unready (" + err.Error() + ")"
	}
	return "ready"
}

// Print renders the status as tables.
func (st Status) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSTATE\tDIAL\tEDGE\tQUEUE (vis/flight/delay)\tDLQ\tPUB DLQ\tLAKE sales/cancels")
	for _, r := range st.Regions {
		dial, edge := "-", "-"
		if r.Dial != nil {
			dial = strconv.Itoa(*r.Dial)
		}
		if r.EdgeHealthy != nil {
			edge = map[bool]string{true: "healthy", false: "UNHEALTHY"}[*r.EdgeHealthy]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d/%d\t%d\t%d\t%d/%d\n", r.Region, r.State, dial, edge,
			r.Processing.Visible, r.Processing.InFlight, r.Processing.Delayed, r.DLQ.Visible+r.DLQ.InFlight,
			r.PublisherDLQ.Visible+r.PublisherDLQ.InFlight, r.LakeSales, r.LakeCancels)
	}
	tw.Flush()
	for _, r := range st.Regions {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  %s: %s\n", r.Region, e)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCESS\tPID\tHEALTH\tLOG")
	for _, p := range st.Processes {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.PID, p.Health, p.LogPath)
	}
	tw.Flush()
	if len(st.Replication) > 0 {
		var rep struct {
			Paused     bool    `json:"paused"`
			LagSeconds float64 `json:"lag_seconds"`
			Links      []struct {
				Table   string  `json:"table"`
				From    string  `json:"from"`
				To      string  `json:"to"`
				Applied int64   `json:"applied"`
				Lag     float64 `json:"last_lag_seconds"`
			} `json:"links"`
		}
		if json.Unmarshal(st.Replication, &rep) == nil {
			fmt.Fprintf(w, "\nREPLICATION STAND-IN (development only): paused=%v lag=%.1fs\n", rep.Paused, rep.LagSeconds)
			tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  TABLE\tFROM → TO\tAPPLIED\tLAST LAG")
			for _, l := range rep.Links {
				fmt.Fprintf(tw, "  %s\t%s → %s\t%d\t%.2fs\n", l.Table, l.From, l.To, l.Applied, l.Lag)
			}
			tw.Flush()
		}
	}
}
