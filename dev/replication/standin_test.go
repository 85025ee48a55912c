package replication

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

var regions = []string{"us-east-1", "sa-east-1"}

type rig struct {
	s      *StandIn
	ddb    map[string]*ddb.Client
	events map[string]string
	claims map[string]string
	stop   func()
}

// newRig creates two regions' tables in the emulator and runs a stand-in
// over them until the test ends.
func newRig(t *testing.T, lag time.Duration) *rig {
	t.Helper()
	srv := motoserver.Shared(t)
	r := &rig{ddb: map[string]*ddb.Client{}, events: map[string]string{}, claims: map[string]string{}}
	clients := map[string]Clients{}
	base := motoserver.UniqueName(t, "repl")
	for _, region := range regions {
		cfg := srv.TestConfig(t, region, awsconfig.Options{})
		r.ddb[region] = ddb.NewFromConfig(cfg)
		r.events[region] = base + "-events"
		r.claims[region] = base + "-claims"
		awsfixtures.EventStoreTable(t, r.ddb[region], r.events[region])
		awsfixtures.IdempotencyTable(t, r.ddb[region], r.claims[region])
		clients[region] = NewClients(cfg)
	}
	s, err := New(clients, Config{
		Tables: []Table{
			{Name: "events", ByRegion: r.events},
			{Name: "idempotency", ByRegion: r.claims},
		},
		Lag:          lag,
		PollInterval: 50 * time.Millisecond,
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

// Two regions write one item at nearly the same time, before either has
// seen the other's write (as two regions accepting one keyed create within
// the replication lag do): both end with the later write, as a global
// table's last-writer-wins does, and each region's stream shows the
// overwrite of the earlier one as a MODIFY.
func TestConcurrentWritesOfOneItemConvergeOnTheLastWriter(t *testing.T) {
	r := newRig(t, 300*time.Millisecond)
	a, b := regions[0], regions[1]
	key := map[string]types.AttributeValue{"sale_id": sv("lww"), "position": sv("SaleCreated")}
	with := func(region string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"sale_id": sv("lww"), "position": sv("SaleCreated"), "origin_region": sv(region)}
	}
	r.put(t, a, r.events[a], with(a))
	time.Sleep(20 * time.Millisecond)
	r.put(t, b, r.events[b], with(b)) // the later write
	eventually(t, 10*time.Second, "both regions holding the later write", func() bool {
		ia, ib := r.get(t, a, r.events[a], key), r.get(t, b, r.events[b], key)
		return ia != nil && ib != nil && fingerprint(ia) == fingerprint(with(b)) && fingerprint(ib) == fingerprint(with(b))
	})
	// Stable: the earlier write does not come back.
	time.Sleep(1500 * time.Millisecond)
	for _, region := range regions {
		if it := r.get(t, region, r.events[region], key); fingerprint(it) != fingerprint(with(b)) {
			t.Errorf("%s ended with %v, want the later write (%s)", region, it, b)
		}
	}
	// A later write anywhere wins again, everywhere (a merge repair).
	r.put(t, a, r.events[a], with("repair"))
	eventually(t, 10*time.Second, "the repair in "+b, func() bool {
		return fingerprint(r.get(t, b, r.events[b], key)) == fingerprint(with("repair"))
	})
}

// The same while replication is paused, with other writes queued before
// the conflicting ones in both regions: when it resumes, each link meets
// the other region's write before its own link has read it, and must still
// keep the later one.
func TestConcurrentWritesDuringAPauseConvergeOnTheLastWriter(t *testing.T) {
	r := newRig(t, 0)
	a, b := regions[0], regions[1]
	r.s.Pause()
	for i := range 5 {
		for _, region := range regions {
			r.put(t, region, r.events[region], map[string]types.AttributeValue{"sale_id": sv(fmt.Sprintf("filler-%s-%d", region, i)), "position": sv("SaleCreated")})
		}
	}
	key := map[string]types.AttributeValue{"sale_id": sv("paused"), "position": sv("SaleProcessed#x")}
	with := func(region string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"sale_id": sv("paused"), "position": sv("SaleProcessed#x"), "processed_region": sv(region)}
	}
	r.put(t, a, r.events[a], with(a))
	time.Sleep(20 * time.Millisecond)
	r.put(t, b, r.events[b], with(b)) // the later write
	time.Sleep(500 * time.Millisecond)
	r.s.Resume()
	eventually(t, 15*time.Second, "both regions holding the later write", func() bool {
		return fingerprint(r.get(t, a, r.events[a], key)) == fingerprint(with(b)) && fingerprint(r.get(t, b, r.events[b], key)) == fingerprint(with(b))
	})
	time.Sleep(1500 * time.Millisecond)
	for _, region := range regions {
		if it := r.get(t, region, r.events[region], key); fingerprint(it) != fingerprint(with(b)) {
			t.Errorf("%s ended with %v, want the later write (%s)", region, it, b)
		}
	}
}

func TestVersionsOrderLikeAGlobalTable(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	later := stamp{at: t0.Add(time.Millisecond), region: "sa-east-1"}
	earlier := stamp{at: t0, region: "us-east-1"}
	if !later.after(earlier) || earlier.after(later) {
		t.Fatal("the later write must win")
	}
	tieA, tieB := stamp{at: t0, region: "sa-east-1"}, stamp{at: t0, region: "us-east-1"}
	if !tieB.after(tieA) || tieA.after(tieB) {
		t.Fatal("a tie must go to the greater region, the same way in both directions")
	}
	var v versions
	v.set("k", version{stamp: later, content: "b"})
	v.set("k", version{stamp: earlier, content: "a"}) // learned late: ignored
	if got, _ := v.get("k"); got.content != "b" {
		t.Fatalf("versions kept %q, want the later write's", got.content)
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
		{"table region without clients", two, Config{Tables: []Table{{Name: "x", ByRegion: map[string]string{"eu-west-1": "t"}}}}, "no clients"},
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

// As the end-to-end suite's replication pause does it: during a pause the
// origin writes a sale and processes it (a transaction), the other region
// takes it over later (its own transaction on the same SaleProcessed
// item), both regions' claims churn; after the resume both stores hold the
// later SaleProcessed.
func TestTakeoverDuringAPauseConvergesOnTheLaterSaleProcessed(t *testing.T) {
	r := newRig(t, 0)
	a, b := regions[0], regions[1]
	ctx := context.Background()
	r.s.Pause()
	const n = 8
	item := func(sale, region string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"sale_id": sv(sale), "position": sv("SaleProcessed#src-" + sale), "origin_region": sv(region)}
	}
	tx := func(region, sale string) {
		_, err := r.ddb[region].TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(r.events[region]), Item: item(sale, region), ConditionExpression: aws.String("attribute_not_exists(sale_id)")}},
			{Put: &types.Put{TableName: aws.String(r.claims[region]), Item: map[string]types.AttributeValue{"id": sv("claim-" + sale), "status": sv("COMPLETED"), "region": sv(region)}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		sale := fmt.Sprintf("sale-%d", i)
		r.put(t, a, r.events[a], map[string]types.AttributeValue{"sale_id": sv(sale), "position": sv("SaleCreated"), "origin_region": sv(a)})
		r.put(t, a, r.claims[a], map[string]types.AttributeValue{"id": sv("claim-" + sale), "status": sv("INPROGRESS"), "region": sv(a)})
		tx(a, sale)
	}
	time.Sleep(2 * time.Second)
	for i := range n {
		sale := fmt.Sprintf("sale-%d", i)
		r.put(t, b, r.claims[b], map[string]types.AttributeValue{"id": sv("claim-" + sale), "status": sv("INPROGRESS"), "region": sv(b)})
		tx(b, sale)
	}
	r.s.Resume()
	start := time.Now()
	for i := range n {
		sale := fmt.Sprintf("sale-%d", i)
		key := map[string]types.AttributeValue{"sale_id": sv(sale), "position": sv("SaleProcessed#src-" + sale)}
		eventually(t, 20*time.Second, sale+" converged on the later takeover", func() bool {
			return fingerprint(r.get(t, a, r.events[a], key)) == fingerprint(item(sale, b)) && fingerprint(r.get(t, b, r.events[b], key)) == fingerprint(item(sale, b))
		})
	}
	t.Logf("converged %s after the resume; %+v", time.Since(start).Round(time.Millisecond), r.s.Status().Links)
}
