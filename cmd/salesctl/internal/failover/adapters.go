package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ga "github.com/aws/aws-sdk-go-v2/service/globalaccelerator"

	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/regionstate"
)

// SSMStates keeps each region's state in its SSM parameter.
type SSMStates struct {
	Params map[string]regionstate.SSM
}

// Get implements States.
func (s SSMStates) Get(ctx context.Context, region string) (regionstate.State, error) {
	p, ok := s.Params[region]
	if !ok {
		return regionstate.Unknown, fmt.Errorf("no state parameter for region %s", region)
	}
	return p.Get(ctx)
}

// Set implements States.
func (s SSMStates) Set(ctx context.Context, region string, st regionstate.State) error {
	p, ok := s.Params[region]
	if !ok {
		return fmt.Errorf("no state parameter for region %s", region)
	}
	return p.Set(ctx, st)
}

// GAAPI is the part of the Global Accelerator client used here.
type GAAPI interface {
	DescribeEndpointGroup(ctx context.Context, in *ga.DescribeEndpointGroupInput, opts ...func(*ga.Options)) (*ga.DescribeEndpointGroupOutput, error)
	UpdateEndpointGroup(ctx context.Context, in *ga.UpdateEndpointGroupInput, opts ...func(*ga.Options)) (*ga.UpdateEndpointGroupOutput, error)
}

// GlobalAccelerator drives the endpoint groups' traffic dials. Its API
// lives in us-west-2 whatever the endpoints' regions.
type GlobalAccelerator struct {
	Client GAAPI
	// Groups maps a region to its endpoint group ARN.
	Groups map[string]string
}

// APIRegion is where Global Accelerator's control plane answers.
const APIRegion = "us-west-2"

// Name implements Traffic.
func (GlobalAccelerator) Name() string { return "Global Accelerator" }

// Dials implements Traffic.
func (g GlobalAccelerator) Dials(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for region, arn := range g.Groups {
		d, err := g.Client.DescribeEndpointGroup(ctx, &ga.DescribeEndpointGroupInput{EndpointGroupArn: aws.String(arn)})
		if err != nil {
			return out, fmt.Errorf("describe endpoint group of %s: %w", region, err)
		}
		if d.EndpointGroup != nil && d.EndpointGroup.TrafficDialPercentage != nil {
			out[region] = int(*d.EndpointGroup.TrafficDialPercentage)
		}
	}
	return out, nil
}

// SetDial implements Traffic with one UpdateEndpointGroup (only the dial:
// endpoints and health checks stay as Terraform set them).
func (g GlobalAccelerator) SetDial(ctx context.Context, region string, dial int) error {
	arn, ok := g.Groups[region]
	if !ok {
		return fmt.Errorf("no endpoint group for region %s", region)
	}
	_, err := g.Client.UpdateEndpointGroup(ctx, &ga.UpdateEndpointGroupInput{
		EndpointGroupArn:      aws.String(arn),
		TrafficDialPercentage: aws.Float32(float32(dial)),
	})
	return err
}

// Edge drives the local stack's edge through its admin API.
type Edge struct {
	URL  string
	HTTP *http.Client
}

// Name implements Traffic.
func (Edge) Name() string { return "local edge" }

func (e Edge) client() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return &http.Client{Timeout: 5 * time.Second}
}

// Dials implements Traffic.
func (e Edge) Dials(ctx context.Context) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(e.URL, "/")+"/dials", nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("local edge at %s: %w", e.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("local edge GET /dials: HTTP %d", resp.StatusCode)
	}
	var body struct {
		Regions []struct {
			Region string `json:"region"`
			Dial   int    `json:"dial"`
		} `json:"regions"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("local edge GET /dials: %w", err)
	}
	out := map[string]int{}
	for _, r := range body.Regions {
		out[r.Region] = r.Dial
	}
	return out, nil
}

// SetDial implements Traffic.
func (e Edge) SetDial(ctx context.Context, region string, dial int) error {
	b, _ := json.Marshal(map[string]int{"dial": dial})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(e.URL, "/")+"/dials/"+region, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client().Do(req)
	if err != nil {
		return fmt.Errorf("local edge at %s: %w", e.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("local edge PUT /dials/%s: HTTP %d %s", region, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// DynamoGates keeps each region's write gate in its event store table
// (eventstore/dynamodb's gate items).
type DynamoGates struct {
	// Clients and Tables per region.
	Clients map[string]esddb.GateAPI
	Tables  map[string]string
	// By is recorded on the gate (who changed it).
	By  string
	Now func() time.Time
}

func (g DynamoGates) set(ctx context.Context, region, in, state string) error {
	client, ok := g.Clients[in]
	if !ok {
		return fmt.Errorf("no DynamoDB client for region %s", in)
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	return esddb.SetGate(ctx, client, g.Tables[in], region, state, g.By, now())
}

// Close implements Gates.
func (g DynamoGates) Close(ctx context.Context, region string) error {
	return g.set(ctx, region, region, esddb.GateClosed)
}

// CloseVia implements Gates.
func (g DynamoGates) CloseVia(ctx context.Context, region, via string) error {
	return g.set(ctx, region, via, esddb.GateClosed)
}

// Open implements Gates.
func (g DynamoGates) Open(ctx context.Context, region string) error {
	return g.set(ctx, region, region, esddb.GateOpen)
}
