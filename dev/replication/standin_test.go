package replication

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

var regions = []string{"us-east-1", "sa-east-1"}

type rig struct {
	s       *StandIn
	ddb     map[string]*ddb.Client
	s3      map[string]*s3.Client
	events  map[string]string
	claims  map[string]string
	buckets map[string]string
	stop    func()
}

// newRig creates two regions' tables and buckets in the emulator and runs
// a stand-in over them until the test ends.
func newRig(t *testing.T, lag time.Duration) *rig { return newRigWith(t, lag, 200*time.Millisecond) }

func newRigWith(t *testing.T, lag, lakeInterval time.Duration) *rig {
	t.Helper()
	srv := motoserver.Shared(t)
	r := &rig{ddb: map[string]*ddb.Client{}, s3: map[string]*s3.Client{}, events: map[string]string{}, claims: map[string]string{}, buckets: map[string]string{}}
	clients := map[string]Clients{}
	base := motoserver.UniqueName(t, "repl")
	for _, region := range regions {
		cfg := srv.TestConfig(t, region, awsconfig.Options{})
		r.ddb[region] = ddb.NewFromConfig(cfg)
		r.s3[region] = s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
		r.events[region] = base + "-events"
		r.claims[region] = base + "-claims"
		r.buckets[region] = base + "-lake-" + region
		awsfixtures.EventStoreTable(t, r.ddb[region], r.events[region])
		awsfixtures.IdempotencyTable(t, r.ddb[region], r.claims[region])
		awsfixtures.Bucket(t, r.s3[region], region, r.buckets[region])
		clients[region] = NewClients(cfg)
	}
	s, err := New(clients, Config{
		Tables: []Table{
			{Name: "events", Kind: AppendOnly, ByRegion: r.events},
			{Name: "idempotency", Kind: Mutable, ByRegion: r.claims, LakeObject: CompletedClaim},
		},
		Buckets:      r.buckets,
		Lag:          lag,
		PollInterval: 50 * time.Millisecond,
		LakeInterval: lakeInterval,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	r.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(r.stop)
	deadline := time.Now().Add(15 * time.Second)
	for !s.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("stand-in not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func (r *rig) get(t *testing.T, region, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := r.ddb[region].GetItem(context.Background(), &ddb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func (r *rig) put(t *testing.T, region, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := r.ddb[region].PutItem(context.Background(), &ddb.PutItemInput{TableName: &table, Item: item}); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 50 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *rig) applied(table, from, to string) int64 {
	for _, l := range r.s.Status().Links {
		if l.Table == table && l.From == from && l.To == to {
			return l.Applied
		}
	}
	return -1
}

func TestEventsReplicateBothWaysWithoutLooping(t *testing.T) {
	r := newRig(t, 0)
	a, b := regions[0], regions[1]
	itemA := map[string]types.AttributeValue{"sale_id": sv("s1"), "position": sv("0000000001#" + a), "event_type": sv("SaleCreated")}
	itemB := map[string]types.AttributeValue{"sale_id": sv("s1"), "position": sv("0000000002#" + b), "event_type": sv("SaleProcessed")}
	r.put(t, a, r.events[a], itemA)
	r.put(t, b, r.events[b], itemB)
	keyA := map[string]types.AttributeValue{"sale_id": sv("s1"), "position": itemA["position"]}
	keyB := map[string]types.AttributeValue{"sale_id": sv("s1"), "position": itemB["position"]}
	eventually(t, 10*time.Second, "both events in both regions", func() bool {
		return r.get(t, b, r.events[b], keyA) != nil && r.get(t, a, r.events[a], keyB) != nil
	})
	if got := r.get(t, b, r.events[b], keyA); fingerprint(got) != fingerprint(itemA) {
		t.Errorf("replica differs: %v", got)
	}
	// Let the echoes come back and be recognised; nothing more is applied.
	time.Sleep(time.Second)
	if n := r.applied("events", a, b); n != 1 {
		t.Errorf("applied %s→%s = %d, want 1", a, b, n)
	}
	if n := r.applied("events", b, a); n != 1 {
		t.Errorf("applied %s→%s = %d, want 1", b, a, n)
	}
}

func TestMutableItemsConvergeOnTheLastWrite(t *testing.T) {
	r := newRig(t, 0)
	a, b := regions[0], regions[1]
	key := map[string]types.AttributeValue{"id": sv("claim-1")}
	// Three quick versions: the intermediate ones must not come back
	// after the last one (the stale-echo trap).
	for _, status := range []string{"INPROGRESS", "INPROGRESS-2", "COMPLETED"} {
		r.put(t, a, r.claims[a], map[string]types.AttributeValue{"id": sv("claim-1"), "status": sv(status), "region": sv(a)})
	}
	eventually(t, 10*time.Second, "the last version in "+b, func() bool {
		it := r.get(t, b, r.claims[b], key)
		return it != nil && it["status"].(*types.AttributeValueMemberS).Value == "COMPLETED"
	})
	time.Sleep(1500 * time.Millisecond)
	for _, region := range regions {
		it := r.get(t, region, r.claims[region], key)
		if it == nil || it["status"].(*types.AttributeValueMemberS).Value != "COMPLETED" {
			t.Errorf("%s ended with %v, want COMPLETED", region, it)
		}
	}
	// Deleting in one region deletes in the other.
	if _, err := r.ddb[b].DeleteItem(context.Background(), &ddb.DeleteItemInput{TableName: aws.String(r.claims[b]), Key: key}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delete in "+a, func() bool { return r.get(t, a, r.claims[a], key) == nil })
}

func TestLagPauseAndResume(t *testing.T) {
	r := newRig(t, 800*time.Millisecond)
	a, b := regions[0], regions[1]
	key := map[string]types.AttributeValue{"sale_id": sv("lag"), "position": sv("0000000001#" + a)}
	start := time.Now()
	r.put(t, a, r.events[a], key)
	eventually(t, 10*time.Second, "the lagged copy", func() bool { return r.get(t, b, r.events[b], key) != nil })
	if took := time.Since(start); took < 700*time.Millisecond {
		t.Errorf("copied after %s, before the 800ms lag", took)
	}

	r.s.SetLag(0)
	r.s.Pause()
	paused := map[string]types.AttributeValue{"sale_id": sv("paused"), "position": sv("0000000001#" + a)}
	r.put(t, a, r.events[a], paused)
	time.Sleep(700 * time.Millisecond)
	if r.get(t, b, r.events[b], paused) != nil {
		t.Fatal("copied while paused")
	}
	r.s.Resume()
	eventually(t, 10*time.Second, "the copy after resume", func() bool { return r.get(t, b, r.events[b], paused) != nil })
}

func TestLakeObjectsReplicateOnceAndAreMarked(t *testing.T) {
	r := newRig(t, 0)
	a, b := regions[0], regions[1]
	ctx := context.Background()
	key := "sales/dt=2026-11-27/region=" + a + "/x.json"
	if _, err := r.s3[a].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.buckets[a]), Key: &key, Body: strings.NewReader(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	var got *s3.GetObjectOutput
	eventually(t, 10*time.Second, "the object in "+b, func() bool {
		var err error
		got, err = r.s3[b].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.buckets[b]), Key: &key})
		return err == nil
	})
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(body) != `{"a":1}` {
		t.Errorf("body %q", body)
	}
	if got.Metadata[ReplicaOfMetadata] != a {
		t.Errorf("metadata %v, want %s=%s", got.Metadata, ReplicaOfMetadata, a)
	}
	time.Sleep(600 * time.Millisecond)
	for _, region := range regions {
		v, err := r.s3[region].ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(r.buckets[region])})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Versions) != 1 {
			t.Errorf("%s has %d versions, want 1 (no copy back, no overwrite)", region, len(v.Versions))
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	one := map[string]Clients{"us-east-1": {}}
	two := map[string]Clients{"us-east-1": {}, "sa-east-1": {}}
	tests := []struct {
		name    string
		clients map[string]Clients
		cfg     Config
		want    string
	}{
		{"one region", one, Config{}, "two regions"},
		{"bad kind", two, Config{Tables: []Table{{Name: "x", Kind: "weird"}}}, "unknown kind"},
		{"table region without clients", two, Config{Tables: []Table{{Name: "x", Kind: Mutable, ByRegion: map[string]string{"eu-west-1": "t"}}}}, "no clients"},
		{"bucket region without clients", two, Config{Buckets: map[string]string{"eu-west-1": "b"}}, "no clients"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.clients, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAnnouncedObjectIsCopiedWithoutListing(t *testing.T) {
	r := newRigWith(t, 0, time.Hour)
	a, b := regions[0], regions[1]
	ctx := context.Background()
	key := "sales/dt=2026-11-27/region=" + a + "/announced.json"
	if _, err := r.s3[a].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.buckets[a]), Key: &key, Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	r.put(t, a, r.claims[a], map[string]types.AttributeValue{"id": sv("evt#0"), "status": sv("COMPLETED"), "region": sv(a), "result": sv(key)})
	eventually(t, 10*time.Second, "the announced object in "+b, func() bool {
		_, err := r.s3[b].HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.buckets[b]), Key: &key})
		return err == nil
	})
}

func TestCompletedClaim(t *testing.T) {
	tests := []struct {
		item        map[string]types.AttributeValue
		region, key string
		ok          bool
	}{
		{map[string]types.AttributeValue{"status": sv("COMPLETED"), "region": sv("us-east-1"), "result": sv("k")}, "us-east-1", "k", true},
		{map[string]types.AttributeValue{"status": sv("INPROGRESS"), "region": sv("us-east-1"), "result": sv("k")}, "", "", false},
		{map[string]types.AttributeValue{"status": sv("COMPLETED"), "region": sv("us-east-1")}, "", "", false},
		{map[string]types.AttributeValue{"status": sv("COMPLETED"), "result": sv("k")}, "", "", false},
	}
	for i, tc := range tests {
		region, key, ok := CompletedClaim(tc.item)
		if region != tc.region || key != tc.key || ok != tc.ok {
			t.Errorf("%d: got %q %q %v", i, region, key, ok)
		}
	}
}
