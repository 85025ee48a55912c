package messaging_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

func seedEnvelope() domain.Envelope {
	return domain.Envelope{
		EventID:          uuid.MustParse("0192f5a8-7f7e-7c1e-9a3b-aaaaaaaaaaaa"),
		EventType:        domain.EventSaleCreated,
		SchemaVersion:    1,
		SaleID:           uuid.MustParse("0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c"),
		AggregateVersion: 1,
		OriginRegion:     "us-east-1",
		OccurredAt:       time.Date(2026, 11, 27, 15, 4, 5, 123456789, time.UTC),
		CorrelationID:    "req-1",
		Data:             domain.SaleCreated{Product: "O Pequeno Principe", Amount: 1400},
	}
}

// snsWrap is the body SQS receives from SNS without raw delivery.
func snsWrap(body []byte) []byte {
	b, _ := json.Marshal(map[string]string{
		"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:sales-events",
		"Message": string(body),
	})
	return b
}

// FuzzDecode feeds the SQS body decoder arbitrary bytes. Whatever it gets,
// it must not panic, must mark every failure as ErrUndecodable (the
// worker's signal to dead-letter at once), and everything it accepts must
// be a valid envelope that survives a wire round trip unchanged.
func FuzzDecode(f *testing.F) {
	valid, err := messaging.Body(seedEnvelope())
	if err != nil {
		f.Fatal(err)
	}
	cancelled := seedEnvelope()
	cancelled.EventType, cancelled.AggregateVersion, cancelled.Data = domain.EventSaleCancelled, 2, domain.SaleCancelled{Reason: "customer"}
	validCancel, _ := messaging.Body(cancelled)
	seeds := [][]byte{
		valid,
		validCancel,
		snsWrap(valid),
		snsWrap(snsWrap(valid)),
		[]byte("  \n" + string(valid) + "\n"),
		[]byte(""),
		[]byte("not json"),
		[]byte("null"),
		[]byte("[]"),
		[]byte(`{}`),
		[]byte(`{"Type":"Notification","Message":"{}"}`),
		[]byte(`{"Type":"Notification","Message":""}`),
		[]byte(strings.Replace(string(valid), "SaleCreated", "SaleExploded", 1)),
		[]byte(strings.Replace(string(valid), `"schema_version":1`, `"schema_version":99`, 1)),
		[]byte(strings.Replace(string(valid), `"amount":14`, `"amount":-1`, 1)),
		[]byte(strings.Replace(string(valid), `"amount":14`, `"amount":1e999`, 1)),
		[]byte(strings.Replace(string(valid), `"aggregate_version":1`, `"aggregate_version":0`, 1)),
		[]byte(strings.Replace(string(valid), `"origin_region":"us-east-1"`, `"origin_region":""`, 1)),
		[]byte(strings.Replace(string(valid), `"data":{`, `"data":{"product":"x","product":`, 1)),
		[]byte(`{"event_id":"not-a-uuid"}`),
		[]byte(strings.Repeat("[", 10000)),
		[]byte(`{"data":` + strings.Repeat(`{"a":`, 500) + `1` + strings.Repeat(`}`, 500) + `}`),
		[]byte(`"` + strings.Repeat("x", messaging.MaxBodyBytes) + `"`),
		[]byte("\xff\xfe{}"),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := messaging.Decode(body)
		if err != nil {
			if !errors.Is(err, messaging.ErrUndecodable) {
				t.Fatalf("Decode error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		if verr := e.Validate(); verr != nil {
			t.Fatalf("Decode accepted an invalid envelope: %v", verr)
		}
		again, err := messaging.Body(e)
		if err != nil {
			t.Fatalf("accepted envelope does not encode: %v", err)
		}
		back, err := messaging.Decode(again)
		if err != nil {
			t.Fatalf("accepted envelope does not decode after encoding: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(e, back) {
			t.Fatalf("round trip changed the envelope:\n%+v\n%+v", e, back)
		}
	})
}

func TestDecodeSeedsDecideAsExpected(t *testing.T) {
	valid, _ := messaging.Body(seedEnvelope())
	cases := []struct {
		name string
		body []byte
		ok   bool
	}{
		{"raw", valid, true},
		{"SNS envelope", snsWrap(valid), true},
		{"not JSON", []byte("not json"), false},
		{"wrong schema", []byte(`{"hello":"world"}`), false},
		{"unknown event type", []byte(strings.Replace(string(valid), "SaleCreated", "SaleExploded", 1)), false},
		{"huge", []byte(`{"pad":"` + strings.Repeat("x", messaging.MaxBodyBytes) + `"}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := messaging.Decode(c.body)
			if (err == nil) != c.ok {
				t.Fatalf("Decode: %v, want ok=%v", err, c.ok)
			}
			if c.ok && e.EventID != seedEnvelope().EventID {
				t.Fatalf("decoded event %s", e.EventID)
			}
		})
	}
}
