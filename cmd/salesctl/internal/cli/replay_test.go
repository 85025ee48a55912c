package cli

import (
	"testing"
	"time"

	"github.com/salesplatform/libs/sales/domain"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-27T10:00:00Z", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), true},
		{"2026-11-27T10:00:00-03:00", time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC), true},
		{"2026-11-27T10:00:00.5Z", time.Date(2026, 11, 27, 10, 0, 0, 5e8, time.UTC), true},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"36h", now.Add(-36 * time.Hour), true},
		{"7d", now.Add(-7 * 24 * time.Hour), true},
		{"1.5d", now.Add(-36 * time.Hour), true},
		{"-2h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
		{"2026-13-01", time.Time{}, false},
	}
	for _, c := range cases {
		got, err := parseTime("--since", c.in, now)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v ok=%t", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseSelections(t *testing.T) {
	types, err := parseEventTypes([]string{"salecreated,SaleCancelled", "SaleCreated"})
	if err != nil || len(types) != 3 || types[0] != domain.EventSaleCreated || types[1] != domain.EventSaleCancelled {
		t.Fatalf("%v %v", types, err)
	}
	if _, err := parseEventTypes([]string{"SaleDeleted"}); err == nil {
		t.Fatal("unknown type accepted")
	}
	ids, err := parseSaleIDs([]string{"0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c, 0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c", "0192f5a8-8a01-7d11-b2c4-5d6e7f8a9b0c"})
	if err != nil || len(ids) != 2 {
		t.Fatalf("%v %v (duplicates must collapse)", ids, err)
	}
	if _, err := parseSaleIDs([]string{"x"}); err == nil {
		t.Fatal("bad id accepted")
	}
	for in, want := range map[string]string{"": "us-east-1", "any": "", "all": "", "sa-east-1": "sa-east-1"} {
		if got, err := originFilter(in, "us-east-1"); err != nil || got != want {
			t.Errorf("origin %q: %q %v", in, got, err)
		}
	}
	if _, err := originFilter("us-east-1,sa-east-1", ""); err == nil {
		t.Error("a list accepted as a region")
	}
	lt, err := lakeTypes(nil)
	if err != nil || len(lt) != 2 {
		t.Fatalf("%v %v", lt, err)
	}
	if lt, err := lakeTypes([]domain.EventType{domain.EventSaleProcessed, domain.EventSaleCancelled}); err != nil || len(lt) != 1 || lt[0] != domain.EventSaleCancelled {
		t.Fatalf("%v %v", lt, err)
	}
	if _, err := lakeTypes([]domain.EventType{domain.EventSaleProcessed}); err == nil {
		t.Fatal("SaleProcessed accepted for the lake")
	}
}
