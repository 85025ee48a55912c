package publisher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesplatform/functions/stream-publisher/internal/publisher"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
)

const home = "us-east-1"

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// spec describes one record of a test batch.
type spec struct {
	name   string // INSERT (default), MODIFY, REMOVE
	region string // origin region (default home)
	broken bool   // an image that does not decode
	noImg  bool   // an INSERT without a new image (KEYS_ONLY)
	void   bool   // a void (a write abandoned at its deadline): no event
	gate   bool   // a region's write gate: no event
}

type batch struct {
	event events.DynamoDBEvent
	envs  []domain.Envelope // per record (zero for broken ones)
}

func build(t testing.TB, specs []spec) batch {
	t.Helper()
	var b batch
	for i, s := range specs {
		region := s.region
		if region == "" {
			region = home
		}
		ev, err := domain.NewSaleCreated(fmt.Sprintf("product %d", i), domain.Amount(100+i))
		if err != nil {
			t.Fatal(err)
		}
		e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, region, "corr", time.Now().Add(-time.Minute), ev)
		if err != nil {
			t.Fatal(err)
		}
		item, err := store.EncodeItem(e)
		if err != nil {
			t.Fatal(err)
		}
		image := toImage(item)
		if s.broken {
			image[store.AttrAggregateVersion] = events.NewStringAttribute("one")
			e = domain.Envelope{}
		}
		if s.void {
			image = map[string]events.DynamoDBAttributeValue{
				store.AttrSaleID: image[store.AttrSaleID], store.AttrPosition: image[store.AttrPosition],
				store.AttrVoidID: events.NewStringAttribute(uuid.NewString()), store.AttrEventID: image[store.AttrEventID],
			}
			e = domain.Envelope{}
		}
		if s.gate {
			item := store.GateKey(home)
			item[store.AttrGateState] = &types.AttributeValueMemberS{Value: store.GateClosed}
			item[store.AttrOriginRegion] = &types.AttributeValueMemberS{Value: store.GateSaleID}
			image, e = toImage(item), domain.Envelope{}
		}
		name := s.name
		if name == "" {
			name = "INSERT"
		}
		rec := events.DynamoDBEventRecord{
			EventID:   fmt.Sprintf("stream-event-%d", i),
			EventName: name,
			AWSRegion: home,
			Change: events.DynamoDBStreamRecord{
				SequenceNumber:              fmt.Sprintf("%021d", 1000+i),
				ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().Add(-time.Duration(len(specs)-i) * time.Second)},
				Keys:                        map[string]events.DynamoDBAttributeValue{"sale_id": image["sale_id"], "position": image["position"]},
				NewImage:                    image,
			},
		}
		if s.noImg || name == "REMOVE" {
			rec.Change.NewImage = nil
		}
		b.event.Records = append(b.event.Records, rec)
		b.envs = append(b.envs, e)
	}
	return b
}

func toImage(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := map[string]events.DynamoDBAttributeValue{}
	for k, v := range item {
		out[k] = toValue(v)
	}
	return out
}

func toValue(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(toImage(x.Value))
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = toValue(e)
		}
		return events.NewListAttribute(l)
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// statsRecorder keeps the last stats.
type statsRecorder struct{ last publisher.Stats }

func (s *statsRecorder) Record(st publisher.Stats) { s.last = st }

func inserts(n int) []spec { return make([]spec, n) }

func TestHandle(t *testing.T) {
	type want struct {
		published   []int // record indexes whose events reach SNS
		failedAt    int   // record index reported, -1 for none
		stats       publisher.Stats
		publishCall int
	}
	bodyOf := func(b batch, i int) string { return b.envs[i].EventID.String() }
	cases := []struct {
		name  string
		specs []spec
		fake  func(b batch) *messaging.FakeSNS
		want  want
	}{
		{
			name:  "own inserts are all published",
			specs: inserts(3),
			want:  want{published: []int{0, 1, 2}, failedAt: -1, stats: publisher.Stats{Records: 3, Published: 3}, publishCall: 1},
		},
		{
			name:  "modify and remove are skipped",
			specs: []spec{{name: "MODIFY"}, {}, {name: "REMOVE"}},
			want:  want{published: []int{1}, failedAt: -1, stats: publisher.Stats{Records: 3, Published: 1, SkippedNotInsert: 2}, publishCall: 1},
		},
		{
			name:  "replicated records are skipped, even undecodable ones",
			specs: []spec{{region: "sa-east-1"}, {}, {region: "sa-east-1", broken: true}},
			want:  want{published: []int{1}, failedAt: -1, stats: publisher.Stats{Records: 3, Published: 1, SkippedReplicated: 2}, publishCall: 1},
		},
		{
			name:  "voids and write gates are no events: skipped, never failed",
			specs: []spec{{void: true}, {}, {gate: true}},
			want:  want{published: []int{1}, failedAt: -1, stats: publisher.Stats{Records: 3, Published: 1, SkippedVoid: 1, SkippedReplicated: 1}, publishCall: 1},
		},
		{
			name:  "only replicated records make no call",
			specs: []spec{{region: "sa-east-1"}, {region: "eu-west-1"}},
			want:  want{failedAt: -1, stats: publisher.Stats{Records: 2, SkippedReplicated: 2}},
		},
		{
			name:  "undecodable record is reported, the rest still published",
			specs: []spec{{}, {}, {broken: true}, {}},
			want:  want{published: []int{0, 1, 3}, failedAt: 2, stats: publisher.Stats{Records: 4, Published: 3, Undecodable: 1, Retried: 2}, publishCall: 1},
		},
		{
			name:  "insert without an image is undecodable",
			specs: []spec{{noImg: true}, {}},
			want:  want{published: []int{1}, failedAt: 0, stats: publisher.Stats{Records: 2, Published: 1, Undecodable: 1, Retried: 2}, publishCall: 1},
		},
		{
			name:  "rejected entries: the earliest is reported",
			specs: inserts(12),
			fake: func(b batch) *messaging.FakeSNS {
				return &messaging.FakeSNS{FailEntry: func(body string, _ map[string]snstypes.MessageAttributeValue) *messaging.EntryError {
					if strings.Contains(body, bodyOf(b, 8)) || strings.Contains(body, bodyOf(b, 5)) {
						return &messaging.EntryError{Code: "KMSThrottling", Message: "slow down"}
					}
					return nil
				}}
			},
			want: want{published: []int{0, 1, 2, 3, 4, 6, 7, 9, 10, 11}, failedAt: 5, stats: publisher.Stats{Records: 12, Published: 10, FailedPublish: 2, Retried: 7}, publishCall: 2},
		},
		{
			name:  "a whole call failing reports its first record",
			specs: inserts(25),
			fake: func(b batch) *messaging.FakeSNS {
				return &messaging.FakeSNS{FailCall: func(_ int, in *sns.PublishBatchInput) error {
					if strings.Contains(aws.ToString(in.PublishBatchRequestEntries[0].Message), bodyOf(b, 10)) {
						return errors.New("throttled after retries")
					}
					return nil
				}}
			},
			want: want{published: append(seq(0, 10), seq(20, 25)...), failedAt: 10, stats: publisher.Stats{Records: 25, Published: 15, FailedPublish: 10, Retried: 15}, publishCall: 3},
		},
		{
			name:  "publish failure before an undecodable record wins",
			specs: []spec{{}, {}, {}, {}, {}, {}, {}, {broken: true}},
			fake: func(b batch) *messaging.FakeSNS {
				return &messaging.FakeSNS{FailEntry: func(body string, _ map[string]snstypes.MessageAttributeValue) *messaging.EntryError {
					if strings.Contains(body, bodyOf(b, 3)) {
						return &messaging.EntryError{Code: "InternalError"}
					}
					return nil
				}}
			},
			want: want{published: []int{0, 1, 2, 4, 5, 6}, failedAt: 3, stats: publisher.Stats{Records: 8, Published: 6, FailedPublish: 1, Undecodable: 1, Retried: 5}, publishCall: 1},
		},
		{
			name:  "entry missing from the answer is not success",
			specs: inserts(2),
			fake: func(b batch) *messaging.FakeSNS {
				return &messaging.FakeSNS{Silent: func(body string) bool { return strings.Contains(body, bodyOf(b, 1)) }}
			},
			want: want{published: []int{0}, failedAt: 1, stats: publisher.Stats{Records: 2, Published: 1, FailedPublish: 1, Retried: 1}, publishCall: 1},
		},
		{
			name: "empty event",
			want: want{failedAt: -1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := build(t, tc.specs)
			fake := &messaging.FakeSNS{}
			if tc.fake != nil {
				fake = tc.fake(b)
			}
			rec := &statsRecorder{}
			pub := messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:123456789012:sales-events", messaging.PublisherOptions{Concurrency: 1})
			h := publisher.New(home, pub, rec, quiet)
			resp, err := h.Handle(context.Background(), b.event)
			if err != nil {
				t.Fatalf("Handle returned an error (a partial batch response is expected instead): %v", err)
			}
			if tc.want.failedAt < 0 {
				if len(resp.BatchItemFailures) != 0 {
					t.Fatalf("batch item failures %v, want none", resp.BatchItemFailures)
				}
			} else {
				wantID := b.event.Records[tc.want.failedAt].Change.SequenceNumber
				if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != wantID {
					t.Fatalf("batch item failures %v, want exactly [%s] (record %d)", resp.BatchItemFailures, wantID, tc.want.failedAt)
				}
			}
			got := map[uuid.UUID]bool{}
			for _, m := range fake.Published() {
				e, err := messaging.Decode([]byte(m.Body))
				if err != nil {
					t.Fatalf("published body does not decode: %v", err)
				}
				if got[e.EventID] {
					t.Fatalf("event %s published twice in one invocation", e.EventID)
				}
				got[e.EventID] = true
				if aws.ToString(m.Attributes["origin_region"].StringValue) != home {
					t.Fatalf("published a record of %s", aws.ToString(m.Attributes["origin_region"].StringValue))
				}
			}
			if len(got) != len(tc.want.published) {
				t.Fatalf("published %d events, want %d", len(got), len(tc.want.published))
			}
			for _, i := range tc.want.published {
				if !got[b.envs[i].EventID] {
					t.Fatalf("record %d not published", i)
				}
			}
			st := rec.last
			wantStats := tc.want.stats
			wantStats.PublishCalls = tc.want.publishCall
			if st.Records != wantStats.Records || st.Published != wantStats.Published || st.SkippedReplicated != wantStats.SkippedReplicated ||
				st.SkippedNotInsert != wantStats.SkippedNotInsert || st.FailedPublish != wantStats.FailedPublish ||
				st.Undecodable != wantStats.Undecodable || st.Retried != wantStats.Retried || st.PublishCalls != wantStats.PublishCalls {
				t.Fatalf("stats %+v, want %+v", st, wantStats)
			}
			if len(tc.specs) > 0 && st.OldestRecordAge < time.Duration(len(tc.specs))*time.Second {
				t.Fatalf("oldest record age %s, want at least %ds", st.OldestRecordAge, len(tc.specs))
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestHandlePublishesInGroupsOfTen(t *testing.T) {
	for _, n := range []int{1, 10, 11, 100, 101} {
		fake := &messaging.FakeSNS{}
		h := publisher.New(home, messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{}), nil, quiet)
		if _, err := h.Handle(context.Background(), build(t, inserts(n)).event); err != nil {
			t.Fatal(err)
		}
		if want := (n + 9) / 10; fake.Calls() != want {
			t.Errorf("%d records: %d PublishBatch calls, want %d", n, fake.Calls(), want)
		}
		if len(fake.Published()) != n {
			t.Errorf("%d records: %d published", n, len(fake.Published()))
		}
	}
}

func TestPublisherRegionOverride(t *testing.T) {
	fake := &messaging.FakeSNS{}
	h := publisher.New("sa-east-1", messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{}), nil, quiet)
	resp, _ := h.Handle(context.Background(), build(t, []spec{{region: "sa-east-1"}, {}}).event)
	if len(resp.BatchItemFailures) != 0 || len(fake.Published()) != 1 ||
		aws.ToString(fake.Published()[0].Attributes["origin_region"].StringValue) != "sa-east-1" {
		t.Fatalf("published %v", fake.Published())
	}
}

func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	emf := publisher.NewEMF(&buf, "stream-publisher", nil)
	emf.Record(publisher.Stats{Records: 7, Published: 4, SkippedReplicated: 1, SkippedNotInsert: 1, Undecodable: 1, Retried: 1, PublishCalls: 1, OldestRecordAge: 1500 * time.Millisecond})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	meta := line["_aws"].(map[string]any)
	directive := meta["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if directive["Namespace"] != publisher.Namespace || line["Service"] != "stream-publisher" {
		t.Fatalf("directive %v", directive)
	}
	// Every declared metric must have a value in the line, or CloudWatch
	// drops it.
	for _, m := range directive["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := line[name]; !ok {
			t.Errorf("metric %s declared but missing", name)
		}
	}
	for name, want := range map[string]float64{"Published": 4, "SkippedReplicated": 1, "SkippedNotInsert": 1, "Undecodable": 1, "BatchSize": 7, "OldestRecordAge": 1500} {
		if line[name] != want {
			t.Errorf("%s = %v, want %v", name, line[name], want)
		}
	}
}

func TestPrometheusRecorder(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := publisher.NewPrometheus(reg)
	p.Record(publisher.Stats{Records: 5, Published: 3, SkippedReplicated: 2, PublishCalls: 1})
	p.Record(publisher.Stats{Records: 1, SkippedNotInsert: 1})
	expected := `
# HELP publisher_publish_calls_total SNS PublishBatch calls.
# TYPE publisher_publish_calls_total counter
publisher_publish_calls_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "publisher_publish_calls_total"); err != nil {
		t.Fatal(err)
	}
	mfs, _ := reg.Gather()
	counts := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "publisher_records_total" {
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if counts["published"] != 3 || counts["skipped_replicated"] != 2 || counts["skipped_not_insert"] != 1 || counts["failed"] != 0 {
		t.Fatalf("records_total %v", counts)
	}
}
