// Package lake writes processed events into the S3 data lake: one JSON
// object per event, at a key and with bytes derived only from the event.
//
// Nothing about the processing (time, region, attempt, consumer) reaches
// the key or the content, so every duplicate delivery, retry, takeover or
// second region computes the same object; writes are conditional
// (If-None-Match: *), so the first one wins and the others change nothing.
package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
)

// Top-level prefixes, one per event type the lake holds. They are separate
// Hive tables: a query engine maps sales/ and cancellations/ to one table
// each, partitioned by dt and region.
const (
	PrefixSales         = "sales"
	PrefixCancellations = "cancellations"
	// PrefixReprocess holds deliberate reprocessing runs, one folder per
	// generation, so a rerun never touches the objects of normal
	// processing: reprocess/g<N>/<normal key>.
	PrefixReprocess = "reprocess"
	// PrefixConflicts holds one record per operation that two regions
	// performed as two different versions (a keyed create or a cancel
	// retried in the other region within the replication lag):
	// conflicts/dt=<day>/<sale_id>.<event_type>.json. Operators list it.
	PrefixConflicts = "conflicts"
)

// SchemaVersion of the lake record layout.
const SchemaVersion = 1

var (
	// ErrNotLakeEvent marks an event type the lake does not hold.
	ErrNotLakeEvent = errors.New("event type is not written to the lake")
	// ErrUnsafeKey marks an event whose fields cannot form a safe key.
	ErrUnsafeKey = errors.New("event cannot form a lake key")
)

// regionPattern admits AWS region names (us-east-1, us-gov-west-1, ...)
// and nothing that could add a path segment to a key.
var regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z0-9]+){1,4}$`)

// ObjectKey is the object key of an event for a processing generation:
//
//	sales/dt=YYYY-MM-DD/<sale_id>.json          SaleCreated
//	cancellations/dt=YYYY-MM-DD/<sale_id>.json  SaleCancelled
//	reprocess/g<N>/<one of the above>           generation N > 0
//
// One key per sale and one per cancellation, from what every region
// agrees on: no origin or processing region, and dt is domain.SaleDate
// (the day in a UUIDv7 sale id; the event's day for a keyed sale), never
// the processing time. The two regions therefore write the same key for
// the same operation, whoever accepted or processed it.
//
// Events of the legacy layout (domain.Envelope.LegacyLayout) keep the keys
// they were written under, so a replay or a reprocessing finds them:
//
//	sales/dt=<occurred_at day>/region=<origin>/<sale_id>.json
func ObjectKey(e domain.Envelope, generation int) (string, error) {
	var prefix string
	switch e.EventType {
	case domain.EventSaleCreated:
		prefix = PrefixSales
	case domain.EventSaleCancelled:
		prefix = PrefixCancellations
	default:
		return "", fmt.Errorf("%w: %s", ErrNotLakeEvent, e.EventType)
	}
	if e.SaleID == uuid.Nil || e.OccurredAt.IsZero() {
		return "", fmt.Errorf("%w: sale id and occurred_at are required", ErrUnsafeKey)
	}
	if len(e.OriginRegion) > 32 || !regionPattern.MatchString(e.OriginRegion) {
		return "", fmt.Errorf("%w: origin_region %q is not a region name", ErrUnsafeKey, e.OriginRegion)
	}
	var key string
	if e.LegacyLayout() {
		key = fmt.Sprintf("%s/dt=%s/region=%s/%s.json", prefix, e.OccurredAt.UTC().Format(time.DateOnly), e.OriginRegion, e.SaleID)
	} else {
		key = fmt.Sprintf("%s/dt=%s/%s.json", prefix, domain.SaleDate(e), e.SaleID)
	}
	if generation > 0 {
		key = fmt.Sprintf("%s/g%d/%s", PrefixReprocess, generation, key)
	}
	return key, nil
}

// record is the lake's row layout: flat, so query engines read it without
// nested types. Field order is fixed by the struct, so the bytes are too.
type record struct {
	LakeSchemaVersion int              `json:"lake_schema_version"`
	EventID           uuid.UUID        `json:"event_id"`
	EventType         domain.EventType `json:"event_type"`
	SchemaVersion     int              `json:"schema_version"`
	SaleID            uuid.UUID        `json:"sale_id"`
	AggregateVersion  int              `json:"aggregate_version"`
	OriginRegion      string           `json:"origin_region"`
	OccurredAt        string           `json:"occurred_at"`
	CorrelationID     string           `json:"correlation_id,omitempty"`
	Principal         string           `json:"principal,omitempty"`
	Product           *string          `json:"product,omitempty"`
	// Amount is a decimal with exactly two places (14.00), AmountCents the
	// exact integer: engines that read numbers as doubles keep the cents.
	Amount      json.RawMessage `json:"amount,omitempty"`
	AmountCents *int64          `json:"amount_cents,omitempty"`
	Reason      *string         `json:"reason,omitempty"`
}

// Content is the object body for an event: one line of JSON (JSON Lines, so
// objects concatenate into a valid file), byte-identical for the same event
// wherever and whenever it is computed.
func Content(e domain.Envelope) ([]byte, error) {
	r := record{
		LakeSchemaVersion: SchemaVersion,
		EventID:           e.EventID,
		EventType:         e.EventType,
		SchemaVersion:     e.SchemaVersion,
		SaleID:            e.SaleID,
		AggregateVersion:  e.AggregateVersion,
		OriginRegion:      e.OriginRegion,
		OccurredAt:        e.OccurredAt.UTC().Format(time.RFC3339Nano),
		CorrelationID:     e.CorrelationID,
		Principal:         e.Principal,
	}
	switch ev := e.Data.(type) {
	case domain.SaleCreated:
		cents := int64(ev.Amount)
		r.Product = &ev.Product
		r.Amount = json.RawMessage(fmt.Sprintf("%d.%02d", cents/100, cents%100))
		r.AmountCents = &cents
	case domain.SaleCancelled:
		if ev.Reason != "" {
			r.Reason = &ev.Reason
		}
	default:
		return nil, fmt.Errorf("%w: %s", ErrNotLakeEvent, e.EventType)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("lake record for %s: %w", e.EventID, err)
	}
	return buf.Bytes(), nil
}

// ErrUnreadableRecord marks bytes that are not a lake record this code
// can read (a corrupted object): they are never overwritten blindly.
var ErrUnreadableRecord = errors.New("not a readable lake record")

// ParseRecord reads a lake object back into the event it records, so two
// versions of one operation can be compared (Merge).
func ParseRecord(b []byte) (domain.Envelope, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: %v", ErrUnreadableRecord, err)
	}
	at, err := time.Parse(time.RFC3339Nano, r.OccurredAt)
	if err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: occurred_at: %v", ErrUnreadableRecord, err)
	}
	e := domain.Envelope{
		EventID: r.EventID, EventType: r.EventType, SchemaVersion: r.SchemaVersion, SaleID: r.SaleID,
		AggregateVersion: r.AggregateVersion, OriginRegion: r.OriginRegion, OccurredAt: at, CorrelationID: r.CorrelationID, Principal: r.Principal,
	}
	switch r.EventType {
	case domain.EventSaleCreated:
		if r.Product == nil || r.AmountCents == nil {
			return domain.Envelope{}, fmt.Errorf("%w: a sale without product or amount_cents", ErrUnreadableRecord)
		}
		e.Data = domain.SaleCreated{Product: *r.Product, Amount: domain.Amount(*r.AmountCents)}
	case domain.EventSaleCancelled:
		var c domain.SaleCancelled
		if r.Reason != nil {
			c.Reason = *r.Reason
		}
		e.Data = c
	default:
		return domain.Envelope{}, fmt.Errorf("%w: event_type %q", ErrUnreadableRecord, r.EventType)
	}
	if err := e.Validate(); err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: %v", ErrUnreadableRecord, err)
	}
	return e, nil
}

// API is the part of the S3 client the writer uses.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Writer writes objects into one bucket. Build its client with
// awsconfig.S3Options, so emulators get path-style addressing.
type Writer struct {
	client API
	bucket string
}

// NewWriter returns a writer on bucket.
func NewWriter(client API, bucket string) *Writer {
	return &Writer{client: client, bucket: bucket}
}

// Bucket is the bucket's name.
func (w *Writer) Bucket() string { return w.bucket }

// maxConflictAttempts bounds retries of S3's 409 ConditionalRequestConflict,
// which it answers while another conditional write of the key is in flight.
const maxConflictAttempts = 4

// Put writes body at key unless an object is already there. created is
// false when the key existed (HTTP 412): the earlier write of the same
// event stands, which is success.
func (w *Writer) Put(ctx context.Context, key string, body []byte) (created bool, err error) {
	for attempt := 1; ; attempt++ {
		in := w.putInput(key, body)
		in.IfNoneMatch = aws.String("*")
		_, err = w.client.PutObject(ctx, in)
		switch status := httpStatus(err); {
		case err == nil:
			return true, nil
		case status == http.StatusPreconditionFailed || apiCode(err) == "PreconditionFailed":
			return false, nil
		case status == http.StatusConflict && attempt < maxConflictAttempts:
			select {
			case <-ctx.Done():
				return false, fmt.Errorf("put s3://%s/%s: %w", w.bucket, key, ctx.Err())
			case <-time.After(time.Duration(attempt*50) * time.Millisecond):
			}
		default:
			return false, fmt.Errorf("put s3://%s/%s: %w", w.bucket, key, err)
		}
	}
}

// Outcome of a Merge.
type Outcome int

const (
	// Written: the key was free and now holds this version.
	Written Outcome = iota + 1
	// Present: the key already held these very bytes (a duplicate).
	Present
	// KeptOther: the key holds another, earlier version of the operation,
	// which stays.
	KeptOther
	// Replaced: the key held another, later version, which this one
	// replaced (the earlier version wins everywhere, domain.Earlier).
	Replaced
)

func (o Outcome) String() string {
	switch o {
	case Written:
		return "written"
	case Present:
		return "present"
	case KeptOther:
		return "kept-other"
	case Replaced:
		return "replaced"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Merged is what a Merge did.
type Merged struct {
	Key     string
	Outcome Outcome
	// Other is the other version found at the key (KeptOther, Replaced).
	Other *domain.Envelope
}

// Conflict reports whether the key held another version of the operation.
func (m Merged) Conflict() bool { return m.Outcome == KeptOther || m.Outcome == Replaced }

// maxMergeAttempts bounds Merge's compare-and-swap rounds; each one means
// another writer changed the key meanwhile.
const maxMergeAttempts = 5

// Merge writes e's record at its key for generation so that the key ends
// holding the earliest version of the operation (domain.Earlier): a free
// key is written (If-None-Match); a key holding the same bytes is left as
// it is; a key holding another version is replaced (If-Match on the ETag
// that was read) only when e is earlier. The first write of a key costs
// one PUT; a duplicate one PUT and one GET. A record that cannot be read is
// never overwritten (ErrUnreadableRecord).
func (w *Writer) Merge(ctx context.Context, e domain.Envelope, generation int) (Merged, error) {
	key, err := ObjectKey(e, generation)
	if err != nil {
		return Merged{}, err
	}
	body, err := Content(e)
	if err != nil {
		return Merged{Key: key}, err
	}
	created, err := w.Put(ctx, key, body)
	if err != nil || created {
		return Merged{Key: key, Outcome: Written}, err
	}
	for range maxMergeAttempts {
		stored, etag, err := w.get(ctx, key)
		if err != nil {
			return Merged{Key: key}, err
		}
		if bytes.Equal(stored, body) {
			return Merged{Key: key, Outcome: Present}, nil
		}
		other, err := ParseRecord(stored)
		if err != nil {
			return Merged{Key: key}, fmt.Errorf("s3://%s/%s: %w", w.bucket, key, err)
		}
		if !domain.Earlier(e, other) {
			return Merged{Key: key, Outcome: KeptOther, Other: &other}, nil
		}
		in := w.putInput(key, body)
		in.IfMatch = &etag
		_, err = w.client.PutObject(ctx, in)
		switch status := httpStatus(err); {
		case err == nil:
			return Merged{Key: key, Outcome: Replaced, Other: &other}, nil
		case status == http.StatusPreconditionFailed || status == http.StatusConflict || apiCode(err) == "PreconditionFailed":
			continue // changed since we read it: compare again
		default:
			return Merged{Key: key}, fmt.Errorf("replace s3://%s/%s: %w", w.bucket, key, err)
		}
	}
	return Merged{Key: key}, fmt.Errorf("merge s3://%s/%s: the object kept changing (%d attempts)", w.bucket, key, maxMergeAttempts)
}

// Conflict kinds.
const (
	// ConflictRetry: the versions carry the same payload (a client's retry
	// that reached the other region before the first attempt replicated).
	ConflictRetry = "retry"
	// ConflictPayload: the versions carry different payloads (two requests
	// with one Idempotency-Key and different bodies, one per region): the
	// earliest is kept and the other is only in this record.
	ConflictPayload = "different_payload"
)

// ConflictKind names the kind of conflict between two versions.
func ConflictKind(a, b domain.Envelope) string {
	if domain.SamePayload(a, b) {
		return ConflictRetry
	}
	return ConflictPayload
}

// ConflictKey is the key of the conflict record of e's operation.
func ConflictKey(e domain.Envelope) string {
	return fmt.Sprintf("%s/dt=%s/%s.%s.json", PrefixConflicts, domain.SaleDate(e), e.SaleID, e.EventType)
}

// conflictRecord is one line of JSON: both versions as lake records, the
// kept (earliest) one first, so both regions write the same bytes.
type conflictRecord struct {
	Kind      string           `json:"kind"`
	SaleID    uuid.UUID        `json:"sale_id"`
	EventID   uuid.UUID        `json:"event_id"`
	EventType domain.EventType `json:"event_type"`
	Kept      json.RawMessage  `json:"kept"`
	Other     json.RawMessage  `json:"other"`
}

// ConflictContent is the conflict record of two versions of one operation.
func ConflictContent(a, b domain.Envelope) ([]byte, error) {
	if domain.Earlier(b, a) {
		a, b = b, a
	}
	kept, err := Content(a)
	if err != nil {
		return nil, err
	}
	other, err := Content(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err = enc.Encode(conflictRecord{
		Kind: ConflictKind(a, b), SaleID: a.SaleID, EventID: a.EventID, EventType: a.EventType,
		Kept: bytes.TrimSpace(kept), Other: bytes.TrimSpace(other),
	})
	return buf.Bytes(), err
}

// RecordConflict writes the conflict record of two versions (once: both
// regions compute the same bytes). It returns the record's key.
func (w *Writer) RecordConflict(ctx context.Context, a, b domain.Envelope) (string, error) {
	key := ConflictKey(a)
	body, err := ConflictContent(a, b)
	if err != nil {
		return key, err
	}
	_, err = w.Put(ctx, key, body)
	return key, err
}

func (w *Writer) putInput(key string, body []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{
		Bucket:        &w.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
	}
}

// get reads an object and its ETag.
func (w *Writer) get(ctx context.Context, key string) ([]byte, string, error) {
	out, err := w.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &w.bucket, Key: &key})
	if err != nil {
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", w.bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("get s3://%s/%s: %w", w.bucket, key, err)
	}
	return b, aws.ToString(out.ETag), nil
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
