package domain

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want Amount
		err  error
	}{
		{"14", 1400, nil},
		{"14.00", 1400, nil},
		{"14.5", 1450, nil},
		{"0.01", 1, nil},
		{"1.4e1", 1400, nil},
		{"1000000000", MaxAmount, nil},
		{"999999999.99", MaxAmount - 1, nil},
		{"0", 0, ErrAmountNotPositive},
		{"-0", 0, ErrAmountNotPositive},
		{"-1", 0, ErrAmountNotPositive},
		{"0.001", 0, ErrAmountPrecision},
		{"0.004", 0, ErrAmountPrecision},
		{"1.005", 0, ErrAmountPrecision},
		{"1000000000.01", 0, ErrAmountTooLarge},
		{"1e309", 0, ErrAmountTooLarge},
		{"-1e309", 0, ErrAmountNotNumber},
		{"NaN", 0, ErrAmountNotNumber},
		{"Inf", 0, ErrAmountNotNumber},
		{"0x10", 0, ErrAmountNotNumber},
		{"", 0, ErrAmountNotNumber},
		{strings.Repeat("1", 40), 0, ErrAmountNotNumber},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestAmountRendersLikeTheOriginalFloat(t *testing.T) {
	for a, want := range map[Amount]string{1400: "14", 1450: "14.5", 1: "0.01", 10: "0.1", 123456: "1234.56"} {
		if got := a.String(); got != want {
			t.Errorf("%d renders %q, want %q", a, got, want)
		}
		var back Amount
		if err := json.Unmarshal([]byte(want), &back); err != nil || back != a {
			t.Errorf("%q reads back as %d, %v", want, back, err)
		}
	}
}

func TestNormalizeProduct(t *testing.T) {
	ok := map[string]string{"  Livro ": "Livro", "é": "é", strings.Repeat("ç", 200): strings.Repeat("ç", 200),
		"می‌خواهم": "می‌خواهم", "👨‍👩‍👧": "👨‍👩‍👧"} // ZWNJ in Persian, ZWJ in an emoji sequence
	for in, want := range ok {
		if got, err := NormalizeProduct(in); err != nil || got != want {
			t.Errorf("%q → %q, %v", in, got, err)
		}
	}
	bad := map[string]error{"": ErrProductBlank, " \t": ErrProductBlank, strings.Repeat("a", 201): ErrProductTooLong,
		"a\x00b": ErrProductEncoding, "a\u0085b": ErrProductEncoding, "\xff": ErrProductEncoding, "a\x1bb\u200b": ErrProductEncoding,
		"\u200b": ErrProductFormat, "Livro\u202eodni": ErrProductFormat, "a\u2066b\u2069": ErrProductFormat,
		"\ufeffLivro": ErrProductFormat, "a\u2060b": ErrProductFormat, "a\u061cb": ErrProductFormat, "a\u200fb": ErrProductFormat}
	for in, want := range bad {
		if _, err := NormalizeProduct(in); !errors.Is(err, want) {
			t.Errorf("%q → %v, want %v", in, err, want)
		}
	}
}

func env(t *testing.T, sale uuid.UUID, v int, region string, ev Event) Envelope {
	t.Helper()
	e, err := NewEnvelope(sale, v, region, "c", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestFoldIsDeterministicWhateverTheOrder(t *testing.T) {
	sale := uuid.New()
	created := env(t, sale, 1, "us-east-1", SaleCreated{Product: "p", Amount: 100})
	events := []Envelope{
		created,
		env(t, sale, 2, "us-east-1", SaleProcessed{SourceEventID: created.EventID, SourceEventType: EventSaleCreated, ProcessedRegion: "us-east-1"}),
		env(t, sale, 2, "sa-east-1", SaleProcessed{SourceEventID: created.EventID, SourceEventType: EventSaleCreated, ProcessedRegion: "sa-east-1"}),
		env(t, sale, 1, "sa-east-1", SaleCreated{Product: "other region's create", Amount: 999}),
	}
	want, err := Fold(events)
	if err != nil {
		t.Fatal(err)
	}
	if want.Product != "other region's create" || want.OriginRegion != "sa-east-1" {
		// sa-east-1 sorts before us-east-1: the first by position wins.
		t.Errorf("first create by position should win, got %+v", want)
	}
	if !want.Processed || want.Status != StatusProcessed || want.Version != 2 {
		t.Errorf("folded %+v", want)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		shuffled := append([]Envelope(nil), events...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := Fold(shuffled)
		if err != nil || got != want {
			t.Fatalf("fold depends on order: %+v vs %+v (%v)", got, want, err)
		}
	}
}

func TestFoldStates(t *testing.T) {
	sale := uuid.New()
	c := env(t, sale, 1, "us-east-1", SaleCreated{Product: "p", Amount: 1})
	if _, err := Fold(nil); !errors.Is(err, ErrSaleNotFound) {
		t.Errorf("no events: %v", err)
	}
	if _, err := Fold([]Envelope{env(t, sale, 1, "us-east-1", SaleCancelled{})}); !errors.Is(err, ErrCorruptSale) {
		t.Errorf("history without SaleCreated: %v", err)
	}
	s, _ := Fold([]Envelope{c, env(t, sale, 2, "us-east-1", SaleCancelled{})})
	if s.Status != StatusCancelled || s.Processed {
		t.Errorf("cancelled: %+v", s)
	}
	cancelProcessed := env(t, sale, 3, "us-east-1", SaleProcessed{SourceEventType: EventSaleCancelled})
	s, _ = Fold([]Envelope{c, cancelProcessed})
	if s.Processed {
		t.Error("processing a cancellation does not mark the sale processed")
	}
	other := env(t, uuid.New(), 2, "us-east-1", SaleCancelled{})
	if _, err := Fold([]Envelope{c, other}); !errors.Is(err, ErrCorruptSale) {
		t.Errorf("mixed sales: %v", err)
	}
}

func TestEnvelopeJSONRoundTrip(t *testing.T) {
	sale := uuid.New()
	for _, e := range []Envelope{
		env(t, sale, 1, "us-east-1", SaleCreated{Product: "O Pequeno Principe", Amount: 1400}),
		env(t, sale, 2, "sa-east-1", SaleCancelled{Reason: "r"}),
		env(t, sale, 3, "us-east-1", SaleProcessed{LakeKey: "k", ProcessedRegion: "us-east-1", SourceEventID: uuid.New(), SourceEventType: EventSaleCreated}),
	} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if back != e {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, e)
		}
	}
}

func TestUpcastingRewritesOldSchemasOnRead(t *testing.T) {
	u := &Upcasters{}
	// A hypothetical v0 of SaleCancelled named the field "why".
	u.steps = map[EventType]map[int]Upcaster{}
	cancelledV := SaleCancelled{}.SchemaVersion()
	u.Register(Upcaster{Type: EventSaleCancelled, From: cancelledV - 1, Up: func(in json.RawMessage) (json.RawMessage, error) {
		var old struct {
			Why string `json:"why"`
		}
		if err := json.Unmarshal(in, &old); err != nil {
			return nil, err
		}
		return json.Marshal(SaleCancelled{Reason: old.Why})
	}})
	// Decode rejects versions below 1; exercise the chain through a
	// registry whose current version is reached from version 0 directly.
	ev, err := u.upcastFrom(EventSaleCancelled, cancelledV-1, json.RawMessage(`{"why":"duplicate order"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.(SaleCancelled).Reason; got != "duplicate order" {
		t.Errorf("upcast reason %q", got)
	}
	if _, err := u.Decode(EventSaleCancelled, cancelledV+1, json.RawMessage(`{}`)); !errors.Is(err, ErrMalformedEnvelope) {
		t.Errorf("a future schema version must be refused, got %v", err)
	}
	if _, err := u.Decode("SaleRefunded", 1, json.RawMessage(`{}`)); !errors.Is(err, ErrUnknownEventType) {
		t.Errorf("unknown type: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering an upcaster twice must panic")
		}
	}()
	u.Register(Upcaster{Type: EventSaleCancelled, From: cancelledV - 1})
}

// FuzzParseEnvelope: arbitrary bytes never panic, and whatever parses is
// valid and survives a round trip unchanged.
func FuzzParseEnvelope(f *testing.F) {
	sale := uuid.MustParse("01a21da4-fc1c-7382-9d03-edef036b026f")
	e, _ := NewEnvelope(sale, 1, "us-east-1", "c", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), SaleCreated{Product: "p", Amount: 1})
	b, _ := json.Marshal(e)
	f.Add(b)
	f.Add([]byte(`{"event_type":"SaleCreated","schema_version":99}`))
	f.Add([]byte(`{"event_id":"x","data":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseEnvelope(in)
		if err != nil {
			return
		}
		if verr := got.Validate(); verr != nil {
			t.Fatalf("parsed an invalid envelope: %v", verr)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseEnvelope(again)
		if err != nil || back != got {
			t.Fatalf("round trip changed the envelope: %v\n%+v\n%+v", err, got, back)
		}
	})
}

// FuzzParseAmount checks the decimal parser against exact rational
// arithmetic: whenever it accepts, the cents are exactly the value.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"14", "14.00", "0.01", "1e3", "1.4e1", "0.1e-1", "1000000000", "1.005", "0x1p4", "+1", "1_0", ".5", "5.", "0.00000000000000000000000001e28"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAmount(s)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok {
			t.Fatalf("ParseAmount(%q) = %d but the literal is not a number", s, got)
		}
		want := new(big.Rat).Mul(r, big.NewRat(100, 1))
		if !want.IsInt() || want.Num().Int64() != int64(got) || got <= 0 || got > MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d, exact value ×100 = %s", s, got, want.RatString())
		}
	})
}
