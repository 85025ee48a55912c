package devstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// Clients are AWS clients for every region of a running stack.
type Clients struct {
	Outputs Outputs
	DDB     map[string]*ddb.Client
	S3      map[string]*s3.Client
	SQS     map[string]*sqs.Client
	SSM     map[string]*ssm.Client
	Config  map[string]aws.Config
}

// NewClients connects to the stack's emulator at motoURL.
func NewClients(ctx context.Context, motoURL string, out Outputs, o awsconfig.Options) (*Clients, error) {
	srv := &motoserver.Server{URL: motoURL}
	c := &Clients{Outputs: out, DDB: map[string]*ddb.Client{}, S3: map[string]*s3.Client{}, SQS: map[string]*sqs.Client{}, SSM: map[string]*ssm.Client{}, Config: map[string]aws.Config{}}
	for region := range out.Regions {
		cfg, err := srv.Config(ctx, region, o)
		if err != nil {
			return nil, err
		}
		c.Config[region] = cfg
		c.DDB[region] = ddb.NewFromConfig(cfg)
		c.S3[region] = s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
		c.SQS[region] = sqs.NewFromConfig(cfg)
		c.SSM[region] = ssm.NewFromConfig(cfg)
	}
	return c, nil
}

// Metrics is one scrape of a Prometheus endpoint.
type Metrics map[string]*dto.MetricFamily

var metricsClient = &http.Client{Timeout: 3 * time.Second}

// Scrape reads a Prometheus text endpoint.
func Scrape(ctx context.Context, url string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s: HTTP %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return Metrics(fams), nil
}

// Sum adds the samples of a counter or gauge whose labels include every
// given label pair ("name=value").
func (m Metrics) Sum(name string, labels ...string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, metric := range f.Metric {
		if !hasLabels(metric, labels) {
			continue
		}
		switch {
		case metric.Counter != nil:
			total += metric.Counter.GetValue()
		case metric.Gauge != nil:
			total += metric.Gauge.GetValue()
		case metric.Untyped != nil:
			total += metric.Untyped.GetValue()
		}
	}
	return total
}

// AWSRequests is aws_requests_total by "service.operation" (HTTP attempts,
// SDK retries included).
func (m Metrics) AWSRequests() map[string]float64 {
	out := map[string]float64{}
	f := m["aws_requests_total"]
	if f == nil {
		return out
	}
	for _, metric := range f.Metric {
		var svc, op string
		for _, l := range metric.Label {
			switch l.GetName() {
			case "service":
				svc = l.GetValue()
			case "operation":
				op = l.GetValue()
			}
		}
		out[svc+"."+op] += metric.GetCounter().GetValue()
	}
	return out
}

func hasLabels(m *dto.Metric, want []string) bool {
	for _, kv := range want {
		k, v, _ := strings.Cut(kv, "=")
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
