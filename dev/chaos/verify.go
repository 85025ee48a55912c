package chaos

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// salesPrefix is where the lake keeps SaleCreated events.
const salesPrefix = "sales/"

// lakeKeys lists the keys under salesPrefix in region's lake.
func (e *Env) lakeKeys(ctx context.Context, region string) (map[string]bool, error) {
	keys, err := devstack.LakeKeys(ctx, e.Clients.S3[region], e.Stack.Outputs().Regions[region].LakeBucket, salesPrefix)
	if err != nil {
		return nil, fmt.Errorf("list the %s lake: %w", region, err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// saleOf is the sale id in a lake key (…/<sale_id>.json).
func saleOf(key string) string {
	return strings.TrimSuffix(key[strings.LastIndex(key, "/")+1:], ".json")
}

// waitLakes polls the lakes (gently: a listing costs the emulator about a
// second per 1,000 objects) until every id is in every region's lake, and
// returns how many are still missing per region when timeout passes.
func (e *Env) waitLakes(ctx context.Context, ids []string, timeout time.Duration) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		missing := map[string]int{}
		for _, r := range e.Stack.Regions() {
			keys, err := e.lakeKeys(ctx, r)
			if err != nil {
				return nil, err
			}
			have := map[string]bool{}
			for k := range keys {
				have[saleOf(k)] = true
			}
			for _, id := range ids {
				if !have[id] {
					missing[r]++
				}
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return missing, ctx.Err()
		}
		e.logf("waiting for the lakes: missing %v", missing)
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
}

// objectVersions counts the versions of each key under salesPrefix.
func (e *Env) objectVersions(ctx context.Context, region string) (map[string]int, error) {
	out := map[string]int{}
	bucket, prefix := e.Stack.Outputs().Regions[region].LakeBucket, salesPrefix
	in := &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &prefix}
	for range 1000 {
		res, err := e.Clients.S3[region].ListObjectVersions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list versions in %s: %w", region, err)
		}
		for _, v := range res.Versions {
			out[aws.ToString(v.Key)]++
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	return out, nil
}

// Tally is what the lakes and stores hold for a scenario's sales.
type Tally struct {
	// Objects are the new lake objects per region (keys that were not there
	// before the scenario).
	Objects map[string]int
	// Lost are sales with a 201 missing from some region's lake or store.
	Lost []string
	// Doubled are sales written more than once anywhere: under two keys, a
	// key rewritten (two versions), two SaleCreated, an event processed
	// twice, or a lake object for a sale the client never got a 201 for.
	Doubled []string
	// Unprocessed are sales whose events lack their SaleProcessed in some
	// region's store (after a bounded wait).
	Unprocessed []string
}

// tally checks invariant 1 for ids against the lakes as they were before
// (keys per region) and the stores.
func (e *Env) tally(ctx context.Context, ids []string, before map[string]map[string]bool, ours map[string]bool) (Tally, error) {
	t := Tally{Objects: map[string]int{}}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	lost, doubled, unprocessed := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range e.Stack.Regions() {
		keys, err := e.lakeKeys(ctx, r)
		if err != nil {
			return t, err
		}
		versions, err := e.objectVersions(ctx, r)
		if err != nil {
			return t, err
		}
		perSale := map[string]int{}
		for k := range keys {
			if before[r][k] {
				continue
			}
			id := saleOf(k)
			if !want[id] {
				if ours[id] {
					continue // an earlier scenario's sale arriving late
				}
				// A sale in the lake that no client got a 201 for.
				doubled[id] = true
				e.logf("%s: lake object %s belongs to no accepted sale of this scenario", r, k)
				continue
			}
			t.Objects[r]++
			perSale[id]++
			if versions[k] != 1 {
				doubled[id] = true
				e.logf("%s: %s has %d versions", r, k, versions[k])
			}
		}
		for id := range want {
			switch n := perSale[id]; {
			case n == 0:
				lost[id] = true
			case n > 1:
				doubled[id] = true
				e.logf("%s: sale %s under %d keys", r, id, n)
			}
		}
	}
	// The stores: exactly one SaleCreated, one SaleProcessed per source
	// event, in every region (the stand-in converges them).
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, r := range e.Stack.Regions() {
				evs, err := e.eventuallyProcessed(ctx, r, id, 60*time.Second)
				mu.Lock()
				switch {
				case err != nil:
					unprocessed[id] = true
					e.logf("%s: load %s: %v", r, id, err)
				case count(evs, domain.EventSaleCreated) == 0:
					lost[id] = true
					e.logf("%s: sale %s got a 201 and is not in the store", r, id)
				case count(evs, domain.EventSaleCreated) > 1:
					doubled[id] = true
					e.logf("%s: sale %s has %d SaleCreated", r, id, count(evs, domain.EventSaleCreated))
				default:
					srcs := map[uuid.UUID]int{}
					for _, ev := range evs {
						if p, ok := ev.Data.(domain.SaleProcessed); ok {
							srcs[p.SourceEventID]++
						}
					}
					for src, n := range srcs {
						if n > 1 {
							doubled[id] = true
							e.logf("%s: sale %s event %s processed %d times", r, id, src, n)
						}
					}
					if !devstack.AllSourcesProcessed(evs) {
						unprocessed[id] = true
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Lost, t.Doubled, t.Unprocessed = sortedKeys(lost), sortedKeys(doubled), sortedKeys(unprocessed)
	return t, ctx.Err()
}

// eventuallyProcessed loads a sale until every source event has its
// SaleProcessed or timeout passes.
func (e *Env) eventuallyProcessed(ctx context.Context, region, id string, timeout time.Duration) ([]domain.Envelope, error) {
	s := store.New(e.Clients.DDB[region], e.Stack.Outputs().Regions[region].EventTable)
	deadline := time.Now().Add(timeout)
	for {
		evs, err := s.Load(ctx, uuid.MustParse(id))
		if err != nil || (count(evs, domain.EventSaleCreated) > 0 && devstack.AllSourcesProcessed(evs)) || time.Now().After(deadline) || ctx.Err() != nil {
			return evs, err
		}
		time.Sleep(time.Second)
	}
}

// checkGets asks each region's API for every sale once: 200 and
// processed, the way a client sees the end state.
func (e *Env) checkGets(ctx context.Context, ids []string) []string {
	var bad []string
	for _, r := range e.Stack.Regions() {
		base := e.Stack.Endpoints().API[r]
		for _, id := range ids {
			var code int
			var got saleBody
			var err error
			for range 5 {
				code, got, err = e.Load.do(ctx, http.MethodGet, base+"/sales/"+id, "", "")
				if err == nil && code == http.StatusOK {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if err != nil || code != http.StatusOK || !got.Processed {
				bad = append(bad, fmt.Sprintf("GET %s %s: %d processed=%v %v", r, id, code, got.Processed, err))
			}
		}
	}
	return bad
}

func count(evs []domain.Envelope, typ domain.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.EventType == typ {
			n++
		}
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// committedProducts returns those of products that a SaleCreated in some
// region's store carries (a Scan: the test stores are small).
func (e *Env) committedProducts(ctx context.Context, products []string) ([]string, error) {
	want := map[string]bool{}
	for _, p := range products {
		want[p] = true
	}
	found := map[string]bool{}
	for _, r := range e.Stack.Regions() {
		table := e.Stack.Outputs().Regions[r].EventTable
		p := ddb.NewScanPaginator(e.Clients.DDB[r], &ddb.ScanInput{TableName: &table})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("scan %s in %s: %w", table, r, err)
			}
			for _, item := range page.Items {
				data, _ := item[store.AttrData].(*ddbtypes.AttributeValueMemberM)
				if data == nil {
					continue
				}
				if prod, ok := data.Value["product"].(*ddbtypes.AttributeValueMemberS); ok && want[prod.Value] {
					found[prod.Value] = true
				}
			}
		}
	}
	return sortedKeys(found), nil
}
