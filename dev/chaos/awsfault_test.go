package chaos

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestParseRules(t *testing.T) {
	tests := []struct {
		spec    string
		want    string
		wantErr bool
	}{
		{spec: "dynamodb:throttle:0.2", want: "dynamodb:throttle:0.2"},
		{spec: " s3:500-after:0.1 , *:slow:0.3:1500ms ", want: "s3:500-after:0.1 *:slow:0.3:1.5s"},
		{spec: "", want: ""},
		{spec: "sqs:500:1", want: "sqs:500:1"},
		{spec: "kinesis:throttle:0.2", wantErr: true},
		{spec: "sqs:explode:0.2", wantErr: true},
		{spec: "sqs:throttle:1.5", wantErr: true},
		{spec: "sqs:throttle", wantErr: true},
		{spec: "sqs:slow:0.2", wantErr: true},
		{spec: "sqs:throttle:0.2:1s", wantErr: true},
		{spec: "sqs:slow:0.2:2h", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			rules, err := ParseRules(tt.spec)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseRules(%q) = %v, want an error", tt.spec, rules)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rules {
				got = append(got, r.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("ParseRules(%q) = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	sig := func(svc string) string {
		return "AWS4-HMAC-SHA256 Credential=testing/20261127/us-east-1/" + svc + "/aws4_request, SignedHeaders=host, Signature=abc"
	}
	tests := []struct {
		name, target, auth, want string
	}{
		{name: "dynamodb", target: "DynamoDB_20120810.PutItem", auth: sig("dynamodb"), want: SvcDynamoDB},
		{name: "streams", target: "DynamoDBStreams_20120810.GetRecords", auth: sig("dynamodb"), want: SvcStreams},
		{name: "sqs json", target: "AmazonSQS.ReceiveMessage", auth: sig("sqs"), want: SvcSQS},
		{name: "ssm", target: "AmazonSSM.GetParameter", auth: sig("ssm"), want: SvcSSM},
		{name: "sns query", auth: sig("sns"), want: SvcSNS},
		{name: "s3 rest", auth: sig("s3"), want: SvcS3},
		{name: "unsigned", want: "other"},
		{name: "unknown target", target: "Kinesis_20131202.PutRecord", want: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if got := Classify(r); got != tt.want {
				t.Errorf("Classify = %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeAWS answers every call with an empty success and counts the calls
// that reached it.
type fakeAWS struct {
	srv   *httptest.Server
	calls atomic.Int64
}

func newFakeAWS(t *testing.T) *fakeAWS {
	f := &fakeAWS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		switch Classify(r) {
		case SvcDynamoDB, SvcStreams:
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(`{}`))), 10))
			_, _ = io.WriteString(w, `{}`)
		case SvcSQS:
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_, _ = io.WriteString(w, `{}`)
		case SvcSSM:
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			_, _ = io.WriteString(w, `{"Parameter":{"Name":"p","Value":"ACTIVE"}}`)
		case SvcSNS:
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<PublishResponse><PublishResult><MessageId>m</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`)
		default:
			w.Header().Set("ETag", `"e"`)
			_, _ = io.WriteString(w, "object")
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func startProxy(t *testing.T, upstream string) *AWSFaults {
	t.Helper()
	p, err := StartAWSFaults(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// calls are one SDK call per service, through the project's one loader.
func calls(cfg aws.Config) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		SvcDynamoDB: func(ctx context.Context) error {
			_, err := ddb.NewFromConfig(cfg).GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("t"),
				Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}}})
			return err
		},
		SvcStreams: func(ctx context.Context) error {
			_, err := dynamodbstreams.NewFromConfig(cfg).GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("it")})
			return err
		},
		SvcSQS: func(ctx context.Context) error {
			_, err := sqs.NewFromConfig(cfg).DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String("http://127.0.0.1/1/q"), ReceiptHandle: aws.String("h")})
			return err
		},
		SvcSNS: func(ctx context.Context) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Message: aws.String("m")})
			return err
		},
		SvcS3: func(ctx context.Context) error {
			_, err := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		},
		SvcSSM: func(ctx context.Context) error {
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("p")})
			return err
		},
	}
}

// The SDK reads each injected answer as the error AWS would give: the
// service's throttling code (a throttle to the retryer) or an HTTP 500.
func TestInjectedErrorsAreTheServicesOwn(t *testing.T) {
	fake := newFakeAWS(t)
	proxy := startProxy(t, fake.srv.URL)
	cfg := (&motoserver.Server{URL: proxy.URL()}).TestConfig(t, "us-east-1", awsconfig.Options{MaxAttempts: 1})
	wantThrottle := map[string]string{
		SvcDynamoDB: "ProvisionedThroughputExceededException", SvcStreams: "LimitExceededException",
		SvcSQS: "ThrottlingException", SvcSNS: "Throttling", SvcS3: "SlowDown", SvcSSM: "ThrottlingException",
	}
	for svc, call := range calls(cfg) {
		for _, kind := range []Kind{Throttle, ServerError} {
			t.Run(svc+"/"+string(kind), func(t *testing.T) {
				proxy.Set(Rule{Service: svc, Kind: kind, Rate: 1})
				before := fake.calls.Load()
				err := call(context.Background())
				var ae smithy.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("error %v is not an API error", err)
				}
				if kind == Throttle && ae.ErrorCode() != wantThrottle[svc] {
					t.Errorf("code %q, want %q", ae.ErrorCode(), wantThrottle[svc])
				}
				var re *smithyhttp.ResponseError
				if kind == ServerError && (!errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError) {
					t.Errorf("error %v, want an HTTP 500", err)
				}
				if n := fake.calls.Load() - before; n != 0 {
					t.Errorf("%d calls reached the upstream, want none", n)
				}
			})
		}
	}
	proxy.Set()
	for svc, call := range calls(cfg) {
		if err := call(context.Background()); err != nil {
			t.Errorf("%s without rules: %v", svc, err)
		}
	}
}

// sequence returns the given dice rolls in turn (then never hits).
func sequence(rolls ...float64) func() float64 {
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if len(rolls) == 0 {
			return 1
		}
		r := rolls[0]
		rolls = rolls[1:]
		return r
	}
}

// A throttled or failed call is retried by the SDK (the request counter
// shows the attempts) and reaches the upstream once; a lost answer reaches
// it on every attempt, which is what the callers' idempotency must absorb.
func TestSDKRetriesInjectedFaults(t *testing.T) {
	tests := []struct {
		kind          Kind
		hits          int
		wantUpstream  int64
		wantErrStatus int
	}{
		{kind: Throttle, hits: 2, wantUpstream: 1},
		{kind: ServerError, hits: 2, wantUpstream: 1},
		{kind: LostAnswer, hits: 1, wantUpstream: 2},
		{kind: ServerError, hits: 3, wantUpstream: 0, wantErrStatus: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			fake := newFakeAWS(t)
			proxy := startProxy(t, fake.srv.URL)
			rolls := make([]float64, tt.hits)
			proxy.rand = sequence(rolls...) // 0 < rate: a hit each
			proxy.Set(Rule{Service: SvcDynamoDB, Kind: tt.kind, Rate: 0.5})
			counter := awsconfig.NewRequestCounter(nil)
			cfg := (&motoserver.Server{URL: proxy.URL()}).TestConfig(t, "us-east-1", awsconfig.Options{MaxAttempts: 3, Counter: counter})
			err := calls(cfg)[SvcDynamoDB](context.Background())
			var re *smithyhttp.ResponseError
			switch {
			case tt.wantErrStatus == 0 && err != nil:
				t.Fatalf("call failed: %v", err)
			case tt.wantErrStatus != 0 && (!errors.As(err, &re) || re.HTTPStatusCode() != tt.wantErrStatus):
				t.Fatalf("error %v, want HTTP %d", err, tt.wantErrStatus)
			}
			attempts := int64(min(tt.hits+1, 3))
			if got := counter.Requests()["DynamoDB.GetItem"]; got != attempts {
				t.Errorf("requests %d, want %d", got, attempts)
			}
			if got := counter.Operations()["DynamoDB.GetItem"]; got != 1 {
				t.Errorf("operations %d, want 1", got)
			}
			if got := fake.calls.Load(); got != tt.wantUpstream {
				t.Errorf("upstream saw %d calls, want %d", got, tt.wantUpstream)
			}
			c := proxy.Counts()
			if c[SvcDynamoDB] != attempts || c[SvcDynamoDB+"/"+string(tt.kind)] != int64(min(tt.hits, 3)) {
				t.Errorf("proxy counts %v", c)
			}
		})
	}
}

func TestSlowCallsAreDelayedAndStillAnswered(t *testing.T) {
	fake := newFakeAWS(t)
	proxy := startProxy(t, fake.srv.URL)
	proxy.Set(Rule{Service: SvcAny, Kind: Slow, Rate: 1, Delay: 150 * time.Millisecond})
	cfg := (&motoserver.Server{URL: proxy.URL()}).TestConfig(t, "us-east-1", awsconfig.Options{MaxAttempts: 1})
	start := time.Now()
	if err := calls(cfg)[SvcSSM](context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("answered after %s, before the injected delay", d)
	}
	if fake.calls.Load() != 1 || proxy.Counts()[SvcSSM+"/slow"] != 1 {
		t.Errorf("upstream calls %d, proxy counts %v", fake.calls.Load(), proxy.Counts())
	}
}

// A late call reaches the upstream even though its caller gave up long
// before: the stuck request that lands after the client's time-out.
func TestLateCallsLandAfterTheCallerGaveUp(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		want int64
	}{{Late, 1}} {
		fake := newFakeAWS(t)
		proxy := startProxy(t, fake.srv.URL)
		proxy.Set(Rule{Service: SvcAny, Kind: tc.kind, Rate: 1, Delay: 300 * time.Millisecond})
		cfg := (&motoserver.Server{URL: proxy.URL()}).TestConfig(t, "us-east-1", awsconfig.Options{MaxAttempts: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := calls(cfg)[SvcSSM](ctx)
		cancel()
		if err == nil {
			t.Fatalf("%s: the caller got an answer before the delay", tc.kind)
		}
		if fake.calls.Load() != 0 {
			t.Fatalf("%s: the upstream got the call before the delay", tc.kind)
		}
		time.Sleep(600 * time.Millisecond)
		if got := fake.calls.Load(); got != tc.want {
			t.Errorf("%s: the upstream got %d calls after the caller gave up, want %d", tc.kind, got, tc.want)
		}
	}
}

func TestProxyRefusesNonLoopbackUpstream(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:4566", "http://example.com:80", "http://192.168.1.1:1"} {
		if p, err := StartAWSFaults(u); err == nil {
			_ = p.Close()
			t.Errorf("StartAWSFaults(%q) accepted a non-loopback upstream", u)
		}
	}
}

func TestCounts(t *testing.T) {
	a := Counts{"sqs": 10, "sqs/throttle": 2, "s3": 4}
	b := Counts{"sqs": 4, "sqs/throttle": 1, "s3": 4}
	d := a.Sub(b)
	if d.String() != "sqs=6 sqs/throttle=1" || d.Injected() != 1 {
		t.Errorf("Sub = %v (injected %d)", d, d.Injected())
	}
	d.Add(Counts{"sqs/throttle": 2})
	if d.Injected() != 3 {
		t.Errorf("Add: %v", d)
	}
}
