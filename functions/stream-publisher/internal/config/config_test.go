package config_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/salesplatform/functions/stream-publisher/internal/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const topic = "arn:aws:sns:us-east-1:123456789012:sales-events"

func TestLoadLambda(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings of the one error line
		check   func(t *testing.T, c config.Lambda)
	}{
		{
			name: "defaults",
			env:  map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": topic},
			check: func(t *testing.T, c config.Lambda) {
				if c.Region != "us-east-1" || c.PublishRegion != "us-east-1" || c.TopicARN != topic || c.PublishConcurrency != 4 || c.LogLevel != slog.LevelInfo {
					t.Fatalf("%+v", c)
				}
			},
		},
		{
			name: "publisher region override",
			env:  map[string]string{"AWS_REGION": "us-east-1", "PUBLISHER_REGION": "sa-east-1", "SNS_SALES_PROCESSING_TOPIC": topic, "LOG_LEVEL": "debug"},
			check: func(t *testing.T, c config.Lambda) {
				if c.PublishRegion != "sa-east-1" || c.LogLevel != slog.LevelDebug {
					t.Fatalf("%+v", c)
				}
			},
		},
		{name: "missing topic", env: map[string]string{"AWS_REGION": "us-east-1"}, wantErr: []string{"SNS_SALES_PROCESSING_TOPIC is required"}},
		{name: "missing everything", env: map[string]string{}, wantErr: []string{"AWS_REGION is required", "SNS_SALES_PROCESSING_TOPIC is required"}},
		{name: "blank region", env: map[string]string{"AWS_REGION": "  ", "SNS_SALES_PROCESSING_TOPIC": topic}, wantErr: []string{"AWS_REGION is required"}},
		{name: "topic name instead of ARN", env: map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": "sales-events"}, wantErr: []string{"SNS_SALES_PROCESSING_TOPIC must be a topic ARN"}},
		{name: "bad concurrency", env: map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": topic, "PUBLISH_CONCURRENCY": "0"}, wantErr: []string{"PUBLISH_CONCURRENCY must be an integer from 1 to 64"}},
		{name: "bad log level", env: map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": topic, "LOG_LEVEL": "loud"}, wantErr: []string{"LOG_LEVEL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.LoadLambda(env(tc.env))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("loaded %+v, want an error", c)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRegionOf(t *testing.T) {
	if got := config.RegionOf(topic); got != "us-east-1" {
		t.Fatalf("RegionOf = %q", got)
	}
	if got := config.RegionOf("sales-events"); got != "" {
		t.Fatalf("RegionOf(name) = %q", got)
	}
}
