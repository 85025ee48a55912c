package lake_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

var (
	saleID  = uuid.MustParse("0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c")
	eventID = uuid.MustParse("0192f5a8-7f7e-7c1e-9a3b-aaaaaaaaaaaa")
	// 23:30 in São Paulo is the next day in UTC: dt must follow UTC.
	occurred = time.Date(2026, 11, 27, 23, 30, 0, 120000000, time.FixedZone("BRT", -3*3600))
)

func created(t *testing.T) domain.Envelope {
	t.Helper()
	return domain.Envelope{
		EventID: eventID, EventType: domain.EventSaleCreated, SchemaVersion: 1, SaleID: saleID,
		AggregateVersion: 1, OriginRegion: "sa-east-1", OccurredAt: occurred, CorrelationID: "req-1",
		Data: domain.SaleCreated{Product: `O "Pequeno" Príncipe <&>`, Amount: 1405},
	}
}

func cancelled(t *testing.T) domain.Envelope {
	e := created(t)
	e.EventType, e.AggregateVersion, e.Data = domain.EventSaleCancelled, 2, domain.SaleCancelled{}
	return e
}

// canonical gives e its canonical event id: the layout every event is
// written in now (created and cancelled above have a legacy, random id).
func canonical(e domain.Envelope) domain.Envelope {
	e.EventID = domain.CanonicalEventID(e.SaleID, e.Data)
	return e
}

// keyed moves e to a sale whose id was derived from an Idempotency-Key
// (a UUIDv5: no time in it).
func keyed(e domain.Envelope) domain.Envelope {
	e.SaleID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("order-42"))
	return canonical(e)
}

func TestObjectKey(t *testing.T) {
	c := created(t)
	x := cancelled(t)
	badRegion := created(t)
	badRegion.OriginRegion = "../../etc"
	processed := created(t)
	processed.EventType, processed.Data = domain.EventSaleProcessed, domain.SaleProcessed{}
	noSale := created(t)
	noSale.SaleID = uuid.Nil
	cases := []struct {
		name    string
		e       domain.Envelope
		gen     int
		want    string
		wantErr error
	}{
		// One key per sale, the day from its UUIDv7 id (2024-11-04), whichever
		// region or day the event carries.
		{"sale", canonical(c), 0, "sales/dt=2024-11-04/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"cancellation, on the sale's day", canonical(x), 0, "cancellations/dt=2024-11-04/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"reprocess generation", canonical(c), 3, "reprocess/g3/sales/dt=2024-11-04/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"keyed sale, dt of the event in UTC", keyed(c), 0, "sales/dt=2026-11-28/" + keyed(c).SaleID.String() + ".json", nil},
		// Legacy events keep the keys they were written under.
		{"legacy sale, dt in UTC", c, 0, "sales/dt=2026-11-28/region=sa-east-1/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"legacy cancellation", x, 0, "cancellations/dt=2026-11-28/region=sa-east-1/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"legacy reprocess generation", c, 3, "reprocess/g3/sales/dt=2026-11-28/region=sa-east-1/0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c.json", nil},
		{"SaleProcessed is not a lake event", processed, 0, "", lake.ErrNotLakeEvent},
		{"region with a path", badRegion, 0, "", lake.ErrUnsafeKey},
		{"no sale id", noSale, 0, "", lake.ErrUnsafeKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lake.ObjectKey(tc.e, tc.gen)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("ObjectKey = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestContentIsFixedByTheEventAlone(t *testing.T) {
	cases := []struct {
		name string
		e    domain.Envelope
		want string
	}{
		{"sale", created(t), `{"lake_schema_version":1,"event_id":"0192f5a8-7f7e-7c1e-9a3b-aaaaaaaaaaaa","event_type":"SaleCreated","schema_version":1,"sale_id":"0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c","aggregate_version":1,"origin_region":"sa-east-1","occurred_at":"2026-11-28T02:30:00.12Z","correlation_id":"req-1","product":"O \"Pequeno\" Príncipe <&>","amount":14.05,"amount_cents":1405}` + "\n"},
		{"cancellation", cancelled(t), `{"lake_schema_version":1,"event_id":"0192f5a8-7f7e-7c1e-9a3b-aaaaaaaaaaaa","event_type":"SaleCancelled","schema_version":1,"sale_id":"0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c","aggregate_version":2,"origin_region":"sa-east-1","occurred_at":"2026-11-28T02:30:00.12Z","correlation_id":"req-1"}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lake.Content(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("content\n got %s\nwant %s", got, tc.want)
			}
			// The same event after a trip through the wire (as the worker
			// receives it) gives the same bytes.
			body, err := messaging.Body(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := messaging.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			again, err := lake.Content(back)
			if err != nil || string(again) != string(got) {
				t.Fatalf("content after a wire round trip differs: %s, %v", again, err)
			}
		})
	}
}

// conflicting answers S3's 409 ConditionalRequestConflict a few times.
type conflicting struct {
	conflicts int
	calls     atomic.Int32
}

func (c *conflicting) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("not used")
}

func (c *conflicting) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if int(c.calls.Add(1)) <= c.conflicts {
		return nil, &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusConflict}}, Err: errors.New("ConditionalRequestConflict")}
	}
	return &s3.PutObjectOutput{}, nil
}

func TestConcurrentConditionalWriteConflictIsRetried(t *testing.T) {
	fake := &conflicting{conflicts: 2}
	created, err := lake.NewWriter(fake, "b").Put(context.Background(), "k", []byte("x"))
	if err != nil || !created || fake.calls.Load() != 3 {
		t.Fatalf("put after 2 conflicts: created %v, err %v, calls %d; want created after 3 calls", created, err, fake.calls.Load())
	}
	fake = &conflicting{conflicts: 100}
	if _, err := lake.NewWriter(fake, "b").Put(context.Background(), "k", []byte("x")); err == nil || fake.calls.Load() != 4 {
		t.Fatalf("endless conflicts: err %v after %d calls, want an error after 4", err, fake.calls.Load())
	}
}

func TestConcurrentDuplicateWritesLeaveOneVersion(t *testing.T) {
	moto := motoserver.Shared(t)
	cfg := moto.TestConfig(t, "sa-east-1", awsconfig.Options{})
	client := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	bucket := motoserver.UniqueName(t, "lake")
	awsfixtures.Bucket(t, client, "sa-east-1", bucket)
	w := lake.NewWriter(client, bucket)
	e := canonical(created(t))

	const writers = 8
	var wg sync.WaitGroup
	var made atomic.Int32
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := w.Merge(context.Background(), e, 0)
			if err != nil {
				errs <- err
			}
			if m.Outcome == lake.Written {
				made.Add(1)
			} else if m.Outcome != lake.Present {
				errs <- fmt.Errorf("a duplicate write ended %s", m.Outcome)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write: %v", err)
	}
	if made.Load() != 1 {
		t.Fatalf("%d writers created the object, want exactly 1", made.Load())
	}
	key, _ := lake.ObjectKey(e, 0)
	versions, err := client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 1 || aws.ToString(versions.Versions[0].Key) != key {
		t.Fatalf("bucket holds %d versions, want 1 of %s", len(versions.Versions), key)
	}
	obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	got, _ := io.ReadAll(obj.Body)
	want, _ := lake.Content(e)
	if string(got) != string(want) || !strings.HasSuffix(string(got), "\n") {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// Two versions of one operation (a keyed create accepted in both regions
// within the replication lag) converge to the earliest at one key, in
// whichever order they arrive; a record that cannot be read is never
// overwritten.
func TestMergeConvergesToTheEarliestVersion(t *testing.T) {
	moto := motoserver.Shared(t)
	cfg := moto.TestConfig(t, "sa-east-1", awsconfig.Options{})
	client := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
	ctx := context.Background()
	early := keyed(created(t))
	late := early
	late.OriginRegion, late.OccurredAt, late.CorrelationID = "us-east-1", early.OccurredAt.Add(3*time.Second), "req-2"
	other := late
	other.Data = domain.SaleCreated{Product: "another body", Amount: 1}
	for _, order := range [][]domain.Envelope{{late, early}, {early, late}, {other, late, early, other}} {
		bucket := motoserver.UniqueName(t, "lake")
		awsfixtures.Bucket(t, client, "sa-east-1", bucket)
		w := lake.NewWriter(client, bucket)
		var key string
		var kept *domain.Envelope // a model of the key: what it must hold
		for i, e := range order {
			m, err := w.Merge(ctx, e, 0)
			if err != nil {
				t.Fatal(err)
			}
			key = m.Key
			var want lake.Outcome
			switch {
			case kept == nil:
				want = lake.Written
			case domain.SameVersion(*kept, e):
				want = lake.Present
			case domain.Earlier(e, *kept):
				want = lake.Replaced
			default:
				want = lake.KeptOther
			}
			if want == lake.Written || want == lake.Replaced {
				kept = &order[i]
			}
			if m.Outcome != want {
				t.Fatalf("order %v, write %d (%s): %s, want %s", regions(order), i, e.OriginRegion, m.Outcome, want)
			}
			if m.Conflict() != (m.Outcome == lake.KeptOther || m.Outcome == lake.Replaced) || (m.Conflict() && m.Other == nil) {
				t.Fatalf("conflict %v without the other version", m.Conflict())
			}
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		want, _ := lake.Content(early)
		if string(got) != string(want) {
			t.Fatalf("order %v: the key holds %s, want the earliest version %s", regions(order), got, want)
		}
	}

	bucket := motoserver.UniqueName(t, "lake")
	awsfixtures.Bucket(t, client, "sa-east-1", bucket)
	w := lake.NewWriter(client, bucket)
	key, _ := lake.ObjectKey(late, 0)
	if _, err := w.Put(ctx, key, []byte("corrupt")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Merge(ctx, early, 0); !errors.Is(err, lake.ErrUnreadableRecord) {
		t.Fatalf("merge over a corrupt record: %v, want ErrUnreadableRecord", err)
	}
}

func regions(es []domain.Envelope) []string {
	var r []string
	for _, e := range es {
		r = append(r, e.OriginRegion+"@"+e.OccurredAt.Format("05.000"))
	}
	return r
}

func TestParseRecordReadsBackWhatContentWrote(t *testing.T) {
	for _, e := range []domain.Envelope{created(t), cancelled(t), keyed(created(t))} {
		b, err := lake.Content(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := lake.ParseRecord(b)
		if err != nil || !domain.SameVersion(back, e) {
			t.Fatalf("ParseRecord(Content(%s)) = %+v, %v", e.EventType, back, err)
		}
	}
	for _, bad := range []string{"", "{}", `{"event_type":"SaleCreated"}`, "corrupt", `{"lake_schema_version":1,"x":1}`} {
		if _, err := lake.ParseRecord([]byte(bad)); !errors.Is(err, lake.ErrUnreadableRecord) {
			t.Errorf("ParseRecord(%q) = %v, want ErrUnreadableRecord", bad, err)
		}
	}
}

func TestConflictRecordIsTheSameWhicheverRegionWritesIt(t *testing.T) {
	a := keyed(created(t))
	b := a
	b.OriginRegion, b.OccurredAt = "us-east-1", a.OccurredAt.Add(time.Second)
	ab, err1 := lake.ConflictContent(a, b)
	ba, err2 := lake.ConflictContent(b, a)
	if err1 != nil || err2 != nil || string(ab) != string(ba) {
		t.Fatalf("conflict records differ by argument order:\n%s\n%s", ab, ba)
	}
	if !strings.Contains(string(ab), `"kind":"retry"`) || strings.Index(string(ab), "sa-east-1") > strings.Index(string(ab), "us-east-1") {
		t.Fatalf("record %s: want kind retry and the earliest (sa-east-1) first", ab)
	}
	b.Data = domain.SaleCreated{Product: "other", Amount: 1}
	if c, _ := lake.ConflictContent(a, b); !strings.Contains(string(c), `"kind":"different_payload"`) {
		t.Fatalf("record %s: want kind different_payload", c)
	}
	if k := lake.ConflictKey(a); k != "conflicts/dt=2026-11-28/"+a.SaleID.String()+".SaleCreated.json" {
		t.Fatalf("conflict key %s", k)
	}
}
