package dynamodb_test

import (
	"context"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// A table written by the previous layout (random event ids, positions
// "<version>#<origin region>"), item for item as its codec wrote them: a
// keyed sale created in both regions (the double this layout allowed),
// processed in both, then cancelled. It reads and folds as it did then
// (the first SaleCreated by position wins), and a new cancel of another
// legacy sale lands beside its events.
func TestLegacyItemsReadAndFoldAsBefore(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	name := motoserver.UniqueName(t, "events")
	awsfixtures.EventStoreTable(t, client, name)
	ctx := context.Background()
	sale := uuid.MustParse("5878141a-503a-5b50-ab1d-6a1e210a314f")
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	item := func(pos, id, typ, region, at string, version string, data map[string]types.AttributeValue) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"sale_id": s(sale.String()), "position": s(pos), "event_id": s(id), "event_type": s(typ),
			"schema_version": n("1"), "aggregate_version": n(version), "origin_region": s(region),
			"occurred_at": s(at), "correlation_id": s("req"), "data": &types.AttributeValueMemberM{Value: data},
		}
	}
	createdUS, createdSA := "0190a0b0-0000-7000-8000-000000000001", "0190a0b0-0000-7000-8000-000000000002"
	legacy := []map[string]types.AttributeValue{
		item("0000000001#us-east-1", createdUS, "SaleCreated", "us-east-1", "2026-11-20T10:00:00Z", "1",
			map[string]types.AttributeValue{"product": s("Livro"), "amount": n("10.5")}),
		item("0000000001#sa-east-1", createdSA, "SaleCreated", "sa-east-1", "2026-11-20T10:00:01Z", "1",
			map[string]types.AttributeValue{"product": s("Livro"), "amount": n("10.5")}),
		item("0000000002#us-east-1", "0190a0b0-0000-7000-8000-000000000003", "SaleProcessed", "us-east-1", "2026-11-20T10:00:02Z", "2",
			map[string]types.AttributeValue{"lake_key": s("sales/dt=2026-11-20/region=us-east-1/" + sale.String() + ".json"), "processed_region": s("us-east-1"), "source_event_id": s(createdUS), "source_event_type": s("SaleCreated")}),
		item("0000000002#sa-east-1", "0190a0b0-0000-7000-8000-000000000004", "SaleProcessed", "sa-east-1", "2026-11-20T10:00:03Z", "2",
			map[string]types.AttributeValue{"lake_key": s("sales/dt=2026-11-20/region=sa-east-1/" + sale.String() + ".json"), "processed_region": s("sa-east-1"), "source_event_id": s(createdSA), "source_event_type": s("SaleCreated")}),
		item("0000000003#us-east-1", "0190a0b0-0000-7000-8000-000000000005", "SaleCancelled", "us-east-1", "2026-11-20T11:00:00Z", "3",
			map[string]types.AttributeValue{}),
	}
	for _, it := range legacy {
		if _, err := client.PutItem(ctx, &ddb.PutItemInput{TableName: &name, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	st := store.New(client, name)
	events, err := st.Load(ctx, sale)
	if err != nil {
		t.Fatalf("legacy items do not read: %v", err)
	}
	if len(events) != len(legacy) {
		t.Fatalf("read %d legacy events, want %d", len(events), len(legacy))
	}
	for i, e := range events {
		if !e.LegacyLayout() {
			t.Errorf("event %d (%s) reads as canonical", i, e.EventID)
		}
	}
	got, err := domain.Fold(events)
	if err != nil {
		t.Fatal(err)
	}
	// As before the change: the first SaleCreated by position (version 1,
	// then region text: sa-east-1 before us-east-1) opens the sale.
	want := domain.Sale{
		ID: sale, Product: "Livro", Amount: 1050, Status: domain.StatusCancelled, Processed: true,
		CreatedAt: time.Date(2026, 11, 20, 10, 0, 1, 0, time.UTC), OriginRegion: "sa-east-1",
		CreatedEventID: uuid.MustParse(createdSA), Version: 3,
	}
	if got != want {
		t.Fatalf("legacy sale folds\n%+v\nwant\n%+v", got, want)
	}
	// Cancelling it again writes nothing new, and a canonical event of the
	// sale (say a cancel after a legacy create) lands beside the legacy ones.
	x, _ := domain.NewEnvelope(sale, 4, "sa-east-1", "c", time.Now(), domain.SaleCancelled{})
	if err := st.Append(ctx, x); err != nil {
		t.Fatalf("canonical append beside legacy events: %v", err)
	}
	if events, _ := st.Load(ctx, sale); len(events) != len(legacy)+1 {
		t.Fatalf("after a canonical append the sale has %d events", len(events))
	}
}
