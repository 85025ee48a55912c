package devstack

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

const exposition = `# HELP aws_requests_total AWS HTTP requests.
# TYPE aws_requests_total counter
aws_requests_total{operation="PutItem",service="DynamoDB"} 3
aws_requests_total{operation="PutItem",service="DynamoDB",region="x"} 2
aws_requests_total{operation="PublishBatch",service="SNS"} 1
# HELP queue_depth Messages.
# TYPE queue_depth gauge
queue_depth{queue="a"} 7
`

func TestScrapeSumsCountersByServiceAndOperation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, exposition)
	}))
	defer srv.Close()
	m, err := Scrape(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := m.AWSRequests()
	if got["DynamoDB.PutItem"] != 5 || got["SNS.PublishBatch"] != 1 || len(got) != 2 {
		t.Fatalf("AWSRequests = %v", got)
	}
	if s := m.Sum("aws_requests_total", "service=SNS"); s != 1 {
		t.Fatalf("Sum(service=SNS) = %v", s)
	}
	if s := m.Sum("queue_depth"); s != 7 {
		t.Fatalf("Sum(queue_depth) = %v", s)
	}
	if got := (Metrics{}).AWSRequests(); len(got) != 0 {
		t.Fatalf("no metrics: %v", got)
	}
}
