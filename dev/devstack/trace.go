package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/lake"
)

// SeedBody is the seed's example sale, byte for byte, sent as the seed's
// curl sends it (Content-Type: application/x-www-form-urlencoded).
const SeedBody = `{"product":"O Pequeno Principe", "amount": 14.00}`

// Hop is one step of a sale's way through the system.
type Hop struct {
	Name string        `json:"name"`
	At   time.Duration `json:"at"`
	Note string        `json:"note,omitempty"`
}

// TraceResult is a followed sale.
type TraceResult struct {
	SaleID string `json:"sale_id"`
	Origin string `json:"origin"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Hops   []Hop  `json:"hops"`
	// Missing lists the hops not seen before the timeout.
	Missing []string `json:"missing,omitempty"`
}

// Tracer follows sales through a running stack.
type Tracer struct {
	Clients   *Clients
	Endpoints Endpoints
	HTTP      *http.Client
	Poll      time.Duration
}

// PostAndTrace posts body through the edge and follows the sale until it
// is in every region's lake and GET shows it processed, or timeout.
func (t *Tracer) PostAndTrace(ctx context.Context, body string, timeout time.Duration) (TraceResult, error) {
	if t.HTTP == nil {
		t.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if t.Poll <= 0 {
		t.Poll = 20 * time.Millisecond
	}
	publishedBefore := map[string]float64{}
	for r, u := range t.Endpoints.Runner {
		if m, err := Scrape(ctx, u+"/metrics"); err == nil {
			publishedBefore[r] = m.Sum("publisher_records_total", "outcome=published")
		}
	}
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.Endpoints.Edge+"/sales", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.HTTP.Do(req)
	if err != nil {
		return TraceResult{}, fmt.Errorf("POST /sales through the edge: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	res := TraceResult{Status: resp.StatusCode, Body: strings.TrimSpace(string(b)), Origin: resp.Header.Get("X-Edge-Region")}
	if resp.StatusCode != http.StatusCreated {
		return res, fmt.Errorf("POST /sales answered %d: %s", resp.StatusCode, b)
	}
	var sale struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &sale); err != nil {
		return res, err
	}
	res.SaleID = sale.ID
	id, err := uuid.Parse(sale.ID)
	if err != nil {
		return res, err
	}
	hop := func(name, note string) {
		res.Hops = append(res.Hops, Hop{Name: name, At: time.Since(start), Note: note})
	}
	hop(fmt.Sprintf("201 Created by sales-api/%s (through the edge)", res.Origin), "")

	regions := t.Clients.Outputs.RegionNames()
	seen := map[string]bool{}
	var created *domain.Envelope
	var lakeKey string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range regions {
			ro := t.Clients.Outputs.Regions[r]
			name := "event store " + r
			if r != res.Origin {
				name += " (replicated)"
			}
			if !seen[name] {
				evs, err := store.New(t.Clients.DDB[r], ro.EventTable).Load(ctx, id)
				if err == nil {
					for _, e := range evs {
						if e.EventType == domain.EventSaleCreated {
							seen[name] = true
							hop(name, "SaleCreated v"+fmt.Sprint(e.AggregateVersion))
							if created == nil {
								e := e
								created = &e
								lakeKey, _ = lake.ObjectKey(e, 0)
							}
						}
					}
				}
			}
		}
		if r := res.Origin; !seen["published"] && t.Endpoints.Runner[r] != "" {
			if m, err := Scrape(ctx, t.Endpoints.Runner[r]+"/metrics"); err == nil && m.Sum("publisher_records_total", "outcome=published") > publishedBefore[r] {
				seen["published"] = true
				hop("published to SNS by stream-runner/"+r, "fan-out to every region's processing queue")
			}
		}
		if created != nil {
			for _, r := range regions {
				ro := t.Clients.Outputs.Regions[r]
				name := "claimed in idempotency table " + r
				if !seen[name] {
					out, err := t.Clients.DDB[r].GetItem(ctx, &ddb.GetItemInput{TableName: &ro.IdempotencyTable, ConsistentRead: aws.Bool(true),
						Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: idempotency.Key(created.EventID, 0)}}})
					if err == nil && len(out.Item) > 0 {
						seen[name] = true
						note := ""
						if v, ok := out.Item["region"].(*types.AttributeValueMemberS); ok {
							note = "claim by " + v.Value
						}
						hop(name, note)
					}
				}
				name = "lake " + r
				if !seen[name] {
					_, err := t.Clients.S3[r].HeadObject(ctx, &s3.HeadObjectInput{Bucket: &ro.LakeBucket, Key: &lakeKey})
					if err == nil {
						seen[name] = true
						hop(name, "s3://"+ro.LakeBucket+"/"+lakeKey)
					}
				}
			}
			if !seen["processed"] {
				evs, err := store.New(t.Clients.DDB[res.Origin], t.Clients.Outputs.Regions[res.Origin].EventTable).Load(ctx, id)
				if err == nil {
					for _, e := range evs {
						if e.EventType == domain.EventSaleProcessed {
							seen["processed"] = true
							hop("SaleProcessed in event store "+res.Origin, "by "+e.OriginRegion)
						}
					}
				}
			}
			if seen["processed"] && !seen["get"] {
				if p, err := t.processed(ctx, sale.ID); err == nil && p {
					seen["get"] = true
					hop("GET /sales/"+sale.ID+" shows processed: true", "")
				}
			}
		}
		want := []string{"published", "processed", "get"}
		for _, r := range regions {
			want = append(want, "lake "+r)
		}
		done := true
		res.Missing = nil
		for _, w := range want {
			if !seen[w] {
				done = false
				res.Missing = append(res.Missing, w)
			}
		}
		if done {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(t.Poll):
		}
	}
	return res, fmt.Errorf("sale %s not followed to the end within %s; missing: %s", sale.ID, timeout, strings.Join(res.Missing, ", "))
}

func (t *Tracer) processed(ctx context.Context, id string) (bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.Endpoints.Edge+"/sales/"+id, nil)
	resp, err := t.HTTP.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var s struct {
		Processed bool `json:"processed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return false, err
	}
	return s.Processed, nil
}

// Print renders a trace.
func (r TraceResult) Print(w io.Writer) {
	fmt.Fprintf(w, "sale %s (origin %s)\n", r.SaleID, r.Origin)
	var prev time.Duration
	for _, h := range r.Hops {
		note := ""
		if h.Note != "" {
			note = "  " + h.Note
		}
		fmt.Fprintf(w, "  %8s  (+%6s)  %s%s\n", h.At.Round(time.Millisecond), (h.At - prev).Round(time.Millisecond), h.Name, note)
		prev = h.At
	}
	for _, m := range r.Missing {
		fmt.Fprintf(w, "  %8s  NOT SEEN  %s\n", "-", m)
	}
}
