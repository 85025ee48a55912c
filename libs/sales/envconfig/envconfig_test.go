package envconfig

import (
	"strings"
	"testing"
	"time"
)

func TestReaderReportsEveryProblemByName(t *testing.T) {
	r := FromMap(map[string]string{"PORT": "http", "TTL": "-1s", "ON": "yes?", "NAME": " x "})
	if got := r.String("NAME", "d"); got != "x" {
		t.Errorf("String trims: got %q", got)
	}
	r.Required("TABLE", "the event store table")
	r.Int("PORT", 8080, 1, 65535)
	r.Duration("TTL", time.Second, 0, time.Minute)
	r.Bool("ON", false)
	err := r.Err()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"TABLE is required", "PORT must be", "TTL must be", "ON must be"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not mention %q", err, name)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

func TestReaderDefaultsAndParsing(t *testing.T) {
	r := FromMap(map[string]string{"A": "7", "D": "30", "E": "250ms", "B": "true"})
	if r.Int("A", 1, 0, 10) != 7 || r.Int("MISSING", 3, 0, 10) != 3 {
		t.Error("Int")
	}
	if r.Duration("D", 0, 0, time.Hour) != 30*time.Second || r.Duration("E", 0, 0, time.Hour) != 250*time.Millisecond {
		t.Error("Duration: bare integers are seconds, Go durations as written")
	}
	if !r.Bool("B", false) {
		t.Error("Bool")
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestURLAndFractionalSeconds(t *testing.T) {
	r := FromGetenv(func(k string) string {
		return map[string]string{"Q": "https://sqs.us-east-1.amazonaws.com/1/q", "BAD": "not a url", "D": "2.5"}[k]
	})
	if r.URL("Q", "a queue URL", true) == "" || r.Duration("D", 0, 0, time.Minute) != 2500*time.Millisecond {
		t.Fatal("valid values refused")
	}
	r.URL("BAD", "a queue URL", true)
	r.URL("MISSING", "a queue URL", true)
	r.URL("OPTIONAL", "a queue URL", false)
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "BAD must be a queue URL") || !strings.Contains(err.Error(), "MISSING is required") || strings.Contains(err.Error(), "OPTIONAL") {
		t.Fatalf("got %v", err)
	}
}
