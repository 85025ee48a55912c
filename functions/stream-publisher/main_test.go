package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

var lambdaEnv = map[string]string{
	"AWS_REGION":                 "us-east-1",
	"SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:123456789012:sales-events",
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestInitHandler(t *testing.T) {
	if h, err := initHandler(context.Background(), lookup(lambdaEnv), io.Discard); err != nil || h == nil {
		t.Fatalf("init with a full environment: %v", err)
	}
	_, err := initHandler(context.Background(), lookup(map[string]string{"AWS_REGION": "us-east-1"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SNS_SALES_PROCESSING_TOPIC") {
		t.Fatalf("init without the topic: %v, want an error naming SNS_SALES_PROCESSING_TOPIC", err)
	}
}

// BenchmarkInit is the Lambda's cold-start work in the handler's own code
// (environment, AWS config, clients); the runtime's start is not included.
func BenchmarkInit(b *testing.B) {
	ctx := context.Background()
	env := lookup(lambdaEnv)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := initHandler(ctx, env, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
