package chaos

import (
	"encoding/json"
	"testing"
	"time"
)

func TestResultLine(t *testing.T) {
	r := Result{Scenario: "net-latency", SalesIn: 50, Objects: map[string]int{"us-east-1": 50, "sa-east-1": 49},
		Lost: 1, Doubled: 0, FiveXX: 3, Duration: 47123 * time.Millisecond}
	want := "net-latency, 50, us-east-1=50 sa-east-1=49, 1, 0, 3, 47.1s"
	if got := r.Line([]string{"us-east-1", "sa-east-1"}); got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	if !r.Passed() {
		t.Error("a result without failures did not pass")
	}
	r.Failures = []string{"lost: x"}
	if r.Passed() {
		t.Error("a result with failures passed")
	}
}

func TestSaleOfLakeKey(t *testing.T) {
	tests := map[string]string{
		"sales/dt=2026-11-27/region=us-east-1/01a21dcc-dda7-7633-b34e-6c5aae44445b.json": "01a21dcc-dda7-7633-b34e-6c5aae44445b",
		"x.json": "x",
	}
	for key, want := range tests {
		if got := saleOf(key); got != want {
			t.Errorf("saleOf(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestSameCents(t *testing.T) {
	tests := []struct {
		n     string
		cents int
		want  bool
	}{
		{"14.00", 1400, true}, {"14", 1400, true}, {"0.29", 29, true}, {"999.99", 99999, true},
		{"14.01", 1400, false}, {"x", 0, false},
	}
	for _, tt := range tests {
		if got := sameCents(json.Number(tt.n), tt.cents); got != tt.want {
			t.Errorf("sameCents(%s, %d) = %v", tt.n, tt.cents, got)
		}
	}
}

func TestDeltaRetries(t *testing.T) {
	d := Delta{Requests: map[string]float64{"a": 10, "b": 5}, Operations: map[string]float64{"a": 7, "b": 5}}
	if got := d.Retries(); got != 3 {
		t.Errorf("Retries = %v, want 3", got)
	}
}

func TestScenarioCatalogue(t *testing.T) {
	seen := map[string]bool{}
	fast := 0
	for _, sc := range Scenarios(FullSize) {
		if seen[sc.Name] {
			t.Errorf("scenario %s twice", sc.Name)
		}
		seen[sc.Name] = true
		if sc.Fault == nil || sc.Injects == "" || sc.Expect == "" || sc.PerRegion != FullSize.PerRegion {
			t.Errorf("scenario %s is incomplete: %+v", sc.Name, sc)
		}
		if sc.Fast {
			fast++
		}
	}
	for _, want := range []string{"net-latency", "net-bandwidth", "net-timeout", "net-reset-peer", "net-blackout-10s", "net-refused-10s",
		"aws-throttle", "aws-500", "aws-slow", "kill-worker", "kill-runner", "kill-api", "replication-pause", "late-writes", "flip-late-writes"} {
		if !seen[want] {
			t.Errorf("no scenario %s", want)
		}
	}
	if fast == 0 || fast > 5 {
		t.Errorf("%d fast scenarios: the fast subset must stay small", fast)
	}
}

// A name in SALES_CHAOS_ONLY that no scenario has fails the run instead of
// running nothing.
func TestUnknownScenarioNamesAreReported(t *testing.T) {
	scs := Scenarios(FastSize)
	if got := unknownNames("kill-worker, late-writes", scs); len(got) != 0 {
		t.Errorf("known names reported unknown: %v", got)
	}
	if got := unknownNames("kill-worker,kil-api,", scs); len(got) != 1 || got[0] != "kil-api" {
		t.Errorf("unknownNames = %v, want [kil-api]", got)
	}
}
