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
//	sales/dt=YYYY-MM-DD/region=<origin>/<sale_id>.json          SaleCreated
//	cancellations/dt=YYYY-MM-DD/region=<origin>/<sale_id>.json  SaleCancelled
//	reprocess/g<N>/<one of the above>                           generation N > 0
//
// dt is the event's occurred_at in UTC, never the processing time, so a
// late or replayed event lands in the partition of the day it happened.
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
	key := fmt.Sprintf("%s/dt=%s/region=%s/%s.json", prefix, e.OccurredAt.UTC().Format(time.DateOnly), e.OriginRegion, e.SaleID)
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

// PutObjectAPI is the part of the S3 client the writer uses.
type PutObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Writer writes objects into one bucket. Build its client with
// awsconfig.S3Options, so emulators get path-style addressing.
type Writer struct {
	client PutObjectAPI
	bucket string
}

// NewWriter returns a writer on bucket.
func NewWriter(client PutObjectAPI, bucket string) *Writer {
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
		_, err = w.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &w.bucket,
			Key:           &key,
			Body:          bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body))),
			ContentType:   aws.String("application/json"),
			IfNoneMatch:   aws.String("*"),
		})
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

// Write derives the key and content of e for generation and writes them.
func (w *Writer) Write(ctx context.Context, e domain.Envelope, generation int) (key string, created bool, err error) {
	if key, err = ObjectKey(e, generation); err != nil {
		return "", false, err
	}
	body, err := Content(e)
	if err != nil {
		return key, false, err
	}
	created, err = w.Put(ctx, key, body)
	return key, created, err
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
