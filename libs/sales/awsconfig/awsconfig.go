// Package awsconfig is the project's one AWS config loader: region,
// AWS_ENDPOINT_URL (the SDK's own setting, read by the SDK), retries,
// timeouts, and the middleware that counts AWS requests per operation.
package awsconfig

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// Options tune the loaded config. The zero value is production's defaults.
type Options struct {
	// MaxAttempts per operation, the first included (default 5). The retry
	// mode is the SDK's: standard unless AWS_RETRY_MODE=adaptive.
	MaxAttempts int
	// AttemptTimeout bounds one HTTP attempt (default 10 s), so a black-holed
	// connection is retried rather than waited on forever.
	AttemptTimeout time.Duration
	// Counter, when set, counts every operation and attempt.
	Counter *RequestCounter
	// APIOptions are extra middleware (fault injection in tests).
	APIOptions []func(*middleware.Stack) error
	// ConfigOptions are passed to config.LoadDefaultConfig after ours (tests
	// use them for static credentials and an explicit endpoint).
	ConfigOptions []func(*config.LoadOptions) error
}

// Load returns the config for region. Credentials, the endpoint override
// (AWS_ENDPOINT_URL) and the retry mode come from the environment, the way
// every AWS SDK reads them.
func Load(ctx context.Context, region string, o Options) (aws.Config, error) {
	if region == "" {
		return aws.Config{}, fmt.Errorf("awsconfig: region is required")
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 10 * time.Second
	}
	httpClient := awshttp.NewBuildableClient().
		WithTimeout(o.AttemptTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 3 * time.Second }).
		WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = 64
			t.ResponseHeaderTimeout = o.AttemptTimeout
		})
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryMaxAttempts(o.MaxAttempts),
		config.WithHTTPClient(httpClient),
	}
	opts = append(opts, o.ConfigOptions...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconfig: load for %s: %w", region, err)
	}
	if o.Counter != nil {
		cfg.APIOptions = append(cfg.APIOptions, o.Counter.AddToStack)
	}
	cfg.APIOptions = append(cfg.APIOptions, o.APIOptions...)
	return cfg, nil
}

// S3Options makes S3 clients use path-style addressing when an endpoint
// override is set: local emulators serve buckets by path, not by host name.
// Lake objects are written without a flexible checksum, so a read has none
// to validate: the SDK's line saying so, once per GetObject, is not logged.
func S3Options(cfg aws.Config) func(*s3.Options) {
	return func(o *s3.Options) {
		if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
			o.UsePathStyle = true
		}
		o.DisableLogOutputChecksumValidationSkipped = true
	}
}
