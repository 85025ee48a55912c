package stack

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func full(region string) Region {
	return Region{
		EventTable: "sales-events", EventStreamARN: "arn:aws:dynamodb:" + region + ":1:table/sales-events/stream/x",
		IdempotencyTable: "sales-idempotency", TopicARN: "arn:aws:sns:" + region + ":1:sales-events",
		ProcessingQueueURL: "http://q/sales-processing", ProcessingDLQURL: "http://q/sales-processing-dlq",
		PublisherFailureQueueURL: "http://q/sales-stream-publisher-dlq", LakeBucket: "sales-lake-local-" + region,
		RegionStateParameter: "/sales/region-state",
	}
}

func TestSaveThenLoadRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "outputs.json")
	want := Stack{Regions: map[string]Region{"us-east-1": full("us-east-1"), "sa-east-1": full("sa-east-1")}, EdgeURL: "http://127.0.0.1:1"}
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
	if names := got.RegionNames(); !reflect.DeepEqual(names, []string{"sa-east-1", "us-east-1"}) {
		t.Fatalf("RegionNames = %v", names)
	}
	if err := got.Validate([]string{"us-east-1", "sa-east-1"}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsMissingBrokenAndEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing": {filepath.Join(dir, "nope.json"), "run the infrastructure outputs task first"},
		"broken":  {write("broken.json", "{"), "parse stack description"},
		"empty":   {write("empty.json", `{"regions":{}}`), "lists no regions"},
	} {
		if _, err := Load(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, tc.want)
		}
	}
}

func TestRegionAndValidateNameWhatIsMissing(t *testing.T) {
	s := Stack{Regions: map[string]Region{"us-east-1": full("us-east-1")}}
	if _, err := s.Region("eu-west-1"); !errors.Is(err, ErrUnknownRegion) || !strings.Contains(err.Error(), "us-east-1") {
		t.Fatalf("Region(eu-west-1) err = %v", err)
	}
	if err := s.Validate([]string{"sa-east-1"}); !errors.Is(err, ErrUnknownRegion) {
		t.Fatalf("Validate of an absent region: %v", err)
	}
	r := full("us-east-1")
	r.LakeBucket = ""
	s.Regions["us-east-1"] = r
	if err := s.Validate([]string{"us-east-1"}); err == nil || !strings.Contains(err.Error(), "lake_bucket") {
		t.Fatalf("Validate without a lake: %v", err)
	}
}
