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
	ga "github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/google/uuid"

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

// TestAgainstMoto runs the SSM states and the fence convergence check
// against the emulator: two regions' tables, with "replication" done by a
// goroutine of the test so it controls when the fences arrive.
func TestAgainstMoto(t *testing.T) {
	srv := motoserver.Shared(t)
	ctx := context.Background()
	name := motoserver.UniqueName(t, "fo")
	params := map[string]regionstate.SSM{}
	clients := map[string]ItemAPI{}
	dd := map[string]*ddb.Client{}
	events := ReplicatedTable{Name: "events", Fence: EventFence, ByRegion: map[string]string{}}
	claims := ReplicatedTable{Name: "idempotency", Fence: ClaimFence, ByRegion: map[string]string{}}
	for _, r := range []string{east, sa} {
		cfg := srv.TestConfig(t, r, awsconfig.Options{})
		s := ssm.NewFromConfig(cfg)
		awsfixtures.RegionState(t, s, "/"+name+"/state", "ACTIVE")
		params[r] = regionstate.SSM{Client: s, Name: "/" + name + "/state"}
		dd[r] = ddb.NewFromConfig(cfg)
		clients[r] = dd[r]
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

	conv := FenceConvergence{Tables: []ReplicatedTable{events, claims}, Clients: clients, Poll: 50 * time.Millisecond}
	scan := func(region, table string) []map[string]ddbtypes.AttributeValue {
		out, err := dd[region].Scan(ctx, &ddb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Items
	}
	// Nothing replicates: the wait times out, and the fences are cleaned up.
	// The bound leaves room for the fence writes themselves on a loaded
	// emulator (a PutItem took over 500 ms under the full suite in CI).
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := conv.Wait(c, east, sa, time.Now())
	cancel()
	if err == nil || !strings.Contains(err.Error(), "did not reach") {
		t.Fatalf("converged with nothing replicated: %v", err)
	}
	for _, tbl := range []string{events.ByRegion[east], claims.ByRegion[east]} {
		if items := scan(east, tbl); len(items) != 0 {
			t.Fatalf("fence left behind in %s: %v", tbl, items)
		}
	}

	// A replicator makes sa's tables what east's are, like a global table:
	// writes and deletes both replicate.
	sync1 := func() {
		for _, tbl := range []ReplicatedTable{events, claims} {
			src, err := dd[east].Scan(ctx, &ddb.ScanInput{TableName: aws.String(tbl.ByRegion[east])})
			if err != nil {
				continue
			}
			dst, err := dd[sa].Scan(ctx, &ddb.ScanInput{TableName: aws.String(tbl.ByRegion[sa])})
			if err != nil {
				continue
			}
			keyOf := func(item map[string]ddbtypes.AttributeValue) string {
				var b strings.Builder
				for _, k := range []string{"sale_id", "position", "id"} {
					if v, ok := item[k].(*ddbtypes.AttributeValueMemberS); ok {
						b.WriteString(k + "=" + v.Value + ";")
					}
				}
				return b.String()
			}
			inSource := map[string]bool{}
			for _, item := range src.Items {
				inSource[keyOf(item)] = true
				_, _ = dd[sa].PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(tbl.ByRegion[sa]), Item: item})
			}
			for _, item := range dst.Items {
				if inSource[keyOf(item)] {
					continue
				}
				key := map[string]ddbtypes.AttributeValue{}
				for _, k := range []string{"sale_id", "position", "id"} {
					if v, ok := item[k]; ok {
						key[k] = v
					}
				}
				_, _ = dd[sa].DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String(tbl.ByRegion[sa]), Key: key})
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			sync1()
		}
	})
	c, cancel = context.WithTimeout(ctx, 15*time.Second)
	detail, err := conv.Wait(c, east, sa, time.Now())
	cancel()
	close(stop)
	wg.Wait()
	sync1() // the fence deletes replicate too
	if err != nil {
		t.Fatalf("did not converge with replication running: %v", err)
	}
	if !strings.Contains(detail, "events after") || !strings.Contains(detail, "idempotency after") {
		t.Errorf("detail %q", detail)
	}
	for _, r := range []string{east, sa} {
		for _, tbl := range []string{events.ByRegion[r], claims.ByRegion[r]} {
			if items := scan(r, tbl); len(items) != 0 {
				t.Errorf("fence left behind in %s/%s: %v", r, tbl, items)
			}
		}
	}
}

func TestFencesAreInvisibleToTheServices(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	_, ev := EventFence("x", at, east)
	if o := ev["origin_region"].(*ddbtypes.AttributeValueMemberS).Value; o == east || o == sa {
		t.Fatalf("event fence claims to come from a region (%s): a publisher would decode it", o)
	}
	if _, err := uuidParse(ev["sale_id"].(*ddbtypes.AttributeValueMemberS).Value); err == nil {
		t.Fatal("event fence's sale id is a UUID: the API could read it")
	}
	_, cl := ClaimFence("x", at, east)
	if st := cl["status"].(*ddbtypes.AttributeValueMemberS).Value; st == "COMPLETED" || st == "INPROGRESS" {
		t.Fatalf("claim fence status %s is one a worker acts on", st)
	}
	if _, ok := cl["expires_at"]; !ok {
		t.Fatal("claim fence never expires")
	}
}

var uuidParse = uuid.Parse
