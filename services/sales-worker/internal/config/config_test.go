package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/salesplatform/services/sales-worker/internal/config"
)

func env(overrides map[string]string) func(string) string {
	base := map[string]string{
		"AWS_REGION":                     "us-east-1",
		"SQS_SALES_QUEUE":                "https://sqs.us-east-1.amazonaws.com/123456789012/sales-processing",
		"SSM_PARAMETER_STORE_STATE":      "/sales/region-state",
		"DYNAMO_SALES_TABLE":             "sales-events",
		"DYNAMO_SALES_IDEMPOTENCY_TABLE": "sales-idempotency",
		"S3_SALES_BUCKET":                "sales-lake-prod-us-east-1",
	}
	for k, v := range overrides {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

func TestDefaults(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Region: "us-east-1", QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/sales-processing",
		StateParameter: "/sales/region-state", EventsTable: "sales-events", IdempotencyTable: "sales-idempotency",
		Bucket: "sales-lake-prod-us-east-1", Port: 8080, Consumers: 2,
		VisibilityTimeout: 30 * time.Second, Lease: 45 * time.Second, IdempotencyTTL: 14 * 24 * time.Hour,
		TakeoverDelay: time.Minute, RegionStateTTL: 5 * time.Second, StopTimeout: 25 * time.Second,
		ReceiveWait: 20 * time.Second, PassiveVisibility: 2 * time.Minute, BackoffBase: 2 * time.Second, BackoffMax: 5 * time.Minute,
	}
	if c != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", c, want)
	}
	if c.Addr() != ":8080" {
		t.Fatalf("addr %q", c.Addr())
	}
}

func TestSettings(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		check func(config.Config) bool
	}{
		{"seconds as a bare number", map[string]string{"VISIBILITY_TIMEOUT": "10"}, func(c config.Config) bool {
			return c.VisibilityTimeout == 10*time.Second && c.Lease == 15*time.Second
		}},
		{"Go durations", map[string]string{"TAKEOVER_DELAY": "2m30s", "STOP_TIMEOUT": "20s"}, func(c config.Config) bool {
			return c.TakeoverDelay == 150*time.Second && c.StopTimeout == 20*time.Second
		}},
		{"explicit lease", map[string]string{"VISIBILITY_TIMEOUT": "30", "IDEMPOTENCY_LEASE": "2m"}, func(c config.Config) bool { return c.Lease == 2*time.Minute }},
		{"host, port and consumers", map[string]string{"HTTP_HOST": "127.0.0.1", "PORT": "9090", "CONSUMER_THREADS": "4"}, func(c config.Config) bool {
			return c.Addr() == "127.0.0.1:9090" && c.Consumers == 4
		}},
		{"optional DLQ", map[string]string{"SQS_SALES_DLQ": "http://127.0.0.1:5000/123/dlq"}, func(c config.Config) bool { return c.DLQURL == "http://127.0.0.1:5000/123/dlq" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.FromEnv(env(tc.env))
			if err != nil || !tc.check(c) {
				t.Fatalf("%+v, %v", c, err)
			}
		})
	}
}

func TestMistakesAreNamedOnOneLine(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"missing queue", map[string]string{"SQS_SALES_QUEUE": ""}, []string{"SQS_SALES_QUEUE is required"}},
		{"missing two", map[string]string{"AWS_REGION": " ", "S3_SALES_BUCKET": ""}, []string{"AWS_REGION is required", "S3_SALES_BUCKET is required"}},
		{"queue name, not URL", map[string]string{"SQS_SALES_QUEUE": "sales-processing"}, []string{"SQS_SALES_QUEUE must be a queue URL"}},
		{"DLQ not a URL", map[string]string{"SQS_SALES_DLQ": "dlq"}, []string{"SQS_SALES_DLQ must be a queue URL"}},
		{"port", map[string]string{"PORT": "80a"}, []string{"PORT must be an integer"}},
		{"consumers", map[string]string{"CONSUMER_THREADS": "0"}, []string{"CONSUMER_THREADS must be an integer from 1"}},
		{"duration", map[string]string{"STOP_TIMEOUT": "soon"}, []string{"STOP_TIMEOUT must be a duration"}},
		{"visibility fraction", map[string]string{"VISIBILITY_TIMEOUT": "1.5s"}, []string{"VISIBILITY_TIMEOUT must be whole seconds"}},
		{"visibility too long", map[string]string{"VISIBILITY_TIMEOUT": "13h"}, []string{"VISIBILITY_TIMEOUT must be between"}},
		{"lease too short", map[string]string{"VISIBILITY_TIMEOUT": "30", "IDEMPOTENCY_LEASE": "20s"}, []string{"IDEMPOTENCY_LEASE (20s) must exceed VISIBILITY_TIMEOUT (30s)"}},
		{"backoff", map[string]string{"RETRY_BACKOFF_BASE": "10m", "RETRY_BACKOFF_MAX": "1m"}, []string{"RETRY_BACKOFF_MAX (1m0s) must not be below"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.FromEnv(env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
