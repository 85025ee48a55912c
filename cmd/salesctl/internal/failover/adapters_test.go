package failover

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	ga "github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

// fakeGA is a Global Accelerator control plane holding dials.
type fakeGA struct {
	mu    sync.Mutex
	dials map[string]float32
	calls []string
}

func (f *fakeGA) DescribeEndpointGroup(_ context.Context, in *ga.DescribeEndpointGroupInput, _ ...func(*ga.Options)) (*ga.DescribeEndpointGroupOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dials[aws.ToString(in.EndpointGroupArn)]
	return &ga.DescribeEndpointGroupOutput{EndpointGroup: &gatypes.EndpointGroup{EndpointGroupArn: in.EndpointGroupArn, TrafficDialPercentage: &d}}, nil
}

func (f *fakeGA) UpdateEndpointGroup(_ context.Context, in *ga.UpdateEndpointGroupInput, _ ...func(*ga.Options)) (*ga.UpdateEndpointGroupOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.EndpointConfigurations != nil || in.HealthCheckPath != nil {
		panic("a dial change must not touch endpoints or health checks")
	}
	f.dials[aws.ToString(in.EndpointGroupArn)] = aws.ToFloat32(in.TrafficDialPercentage)
	f.calls = append(f.calls, aws.ToString(in.EndpointGroupArn))
	return &ga.UpdateEndpointGroupOutput{}, nil
}

func TestGlobalAcceleratorDials(t *testing.T) {
	f := &fakeGA{dials: map[string]float32{"arn:east": 100, "arn:sa": 100}}
	g := GlobalAccelerator{Client: f, Groups: map[string]string{east: "arn:east", sa: "arn:sa"}}
	if err := g.SetDial(context.Background(), sa, 0); err != nil {
		t.Fatal(err)
	}
	d, err := g.Dials(context.Background())
	if err != nil || d[sa] != 0 || d[east] != 100 {
		t.Fatalf("dials %v, %v", d, err)
	}
	if err := g.SetDial(context.Background(), "eu-west-1", 0); err == nil {
		t.Fatal("set a dial of a region without endpoint group")
	}
}

func TestEdgeDials(t *testing.T) {
	var mu sync.Mutex
	dials := map[string]int{east: 100, sa: 100}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/dials":
			var regions []map[string]any
			for k, v := range dials {
				regions = append(regions, map[string]any{"region": k, "dial": v})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"regions": regions})
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/dials/"):
			var b struct{ Dial int }
			_ = json.NewDecoder(r.Body).Decode(&b)
			region := strings.TrimPrefix(r.URL.Path, "/dials/")
			if _, ok := dials[region]; !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			dials[region] = b.Dial
			_, _ = w.Write([]byte("{}"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	e := Edge{URL: srv.URL}
	if err := e.SetDial(context.Background(), east, 0); err != nil {
		t.Fatal(err)
	}
	d, err := e.Dials(context.Background())
	if err != nil || d[east] != 0 || d[sa] != 100 {
		t.Fatalf("%v %v", d, err)
	}
	if err := e.SetDial(context.Background(), "eu-west-1", 0); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown region: %v", err)
	}
}

// TestAgainstMoto runs the SSM states and the table convergence check
// against the emulator: two regions' tables, with "replication" done by
// hand so the test controls what has arrived.
func TestAgainstMoto(t *testing.T) {
	srv := motoserver.Shared(t)
	ctx := context.Background()
	name := motoserver.UniqueName(t, "fo")
	params := map[string]regionstate.SSM{}
	clients := map[string]RegionClients{}
	dd := map[string]*ddb.Client{}
	events := ReplicatedTable{Name: "events", OriginAttr: "origin_region", ByRegion: map[string]string{}}
	claims := ReplicatedTable{Name: "idempotency", OriginAttr: "region", CompareContent: true, ByRegion: map[string]string{}}
	for _, r := range []string{east, sa} {
		cfg := srv.TestConfig(t, r, awsconfig.Options{})
		s := ssm.NewFromConfig(cfg)
		awsfixtures.RegionState(t, s, "/"+name+"/state", "ACTIVE")
		params[r] = regionstate.SSM{Client: s, Name: "/" + name + "/state"}
		dd[r] = ddb.NewFromConfig(cfg)
		clients[r] = RegionClients{Items: dd[r], Streams: dynamodbstreams.NewFromConfig(cfg)}
		events.ByRegion[r], claims.ByRegion[r] = name+"-events", name+"-claims"
		awsfixtures.EventStoreTable(t, dd[r], events.ByRegion[r])
		awsfixtures.IdempotencyTable(t, dd[r], claims.ByRegion[r])
	}
	states := SSMStates{Params: params}
	if err := states.Set(ctx, east, regionstate.Passive); err != nil {
		t.Fatal(err)
	}
	if s, err := states.Get(ctx, east); err != nil || s != regionstate.Passive {
		t.Fatalf("%s %v", s, err)
	}

	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	put := func(region, table string, item map[string]ddbtypes.AttributeValue) {
		t.Helper()
		if _, err := dd[region].PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	ev1 := map[string]ddbtypes.AttributeValue{"sale_id": s("a"), "position": s("0000000001#" + east), "origin_region": s(east)}
	ev2 := map[string]ddbtypes.AttributeValue{"sale_id": s("b"), "position": s("0000000001#" + east), "origin_region": s(east)}
	fromSA := map[string]ddbtypes.AttributeValue{"sale_id": s("c"), "position": s("0000000001#" + sa), "origin_region": s(sa)}
	claimV1 := map[string]ddbtypes.AttributeValue{"id": s("k1"), "status": s("INPROGRESS"), "region": s(east)}
	claimV2 := map[string]ddbtypes.AttributeValue{"id": s("k1"), "status": s("COMPLETED"), "region": s(east)}
	put(east, events.ByRegion[east], ev1)
	put(east, events.ByRegion[east], ev2)
	put(east, events.ByRegion[east], fromSA) // replicated in: not east's to check
	put(east, claims.ByRegion[east], claimV1)
	put(east, claims.ByRegion[east], claimV2)

	conv := TableConvergence{Tables: []ReplicatedTable{events, claims}, Clients: clients, Poll: 50 * time.Millisecond}
	wait := func(d time.Duration) error {
		c, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		_, err := conv.Wait(c, east, sa, time.Now())
		return err
	}
	if err := wait(300 * time.Millisecond); err == nil {
		t.Fatal("converged with nothing replicated")
	}
	put(sa, events.ByRegion[sa], ev1)
	put(sa, events.ByRegion[sa], ev2)
	put(sa, claims.ByRegion[sa], claimV1) // a stale version of the claim
	if err := wait(300 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "idempotency") {
		t.Fatalf("converged with a stale claim: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- wait(10 * time.Second) }()
	time.Sleep(200 * time.Millisecond)
	put(sa, claims.ByRegion[sa], claimV2)
	if err := <-done; err != nil {
		t.Fatalf("did not converge once everything arrived: %v", err)
	}
}
