package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is a kind of AWS error the fault proxy injects.
type Kind string

// Kinds of injected AWS behaviour.
const (
	// Throttle answers with the service's own throttling error
	// (ProvisionedThroughputExceededException for DynamoDB,
	// LimitExceededException for DynamoDB Streams, ThrottlingException for
	// SQS and SSM, Throttling for SNS, SlowDown for S3) before the call
	// reaches the emulator: nothing happened, the SDK backs off and retries.
	Throttle Kind = "throttle"
	// ServerError answers HTTP 500 (InternalServerError and the like)
	// before the call reaches the emulator.
	ServerError Kind = "500"
	// LostAnswer forwards the call (it takes effect) and replaces the answer
	// with an HTTP 500: the ambiguous failure a retry must not double.
	LostAnswer Kind = "500-after"
	// Slow delays the call by Rule.Delay before forwarding it; a caller that
	// gives up first cancels it.
	Slow Kind = "slow"
	// Late delays the call by Rule.Delay and forwards it even when the
	// caller gave up meanwhile: a request stuck in the network that lands
	// after its client timed out. What it writes must not commit then.
	Late Kind = "late"
)

// Services as the fault proxy names them.
const (
	SvcDynamoDB = "dynamodb"
	SvcStreams  = "streams"
	SvcSQS      = "sqs"
	SvcSNS      = "sns"
	SvcS3       = "s3"
	SvcSSM      = "ssm"
	SvcAny      = "*"
)

// Rule injects Kind into a share (Rate, 0..1) of the calls to Service.
type Rule struct {
	Service string
	Kind    Kind
	Rate    float64
	// Delay of a Slow call.
	Delay time.Duration
}

func (r Rule) String() string {
	s := fmt.Sprintf("%s:%s:%g", r.Service, r.Kind, r.Rate)
	if r.Kind == Slow || r.Kind == Late {
		s += ":" + r.Delay.String()
	}
	return s
}

// ParseRules reads "service:kind:rate[:delay],..." (for example
// "dynamodb:throttle:0.2,s3:500-after:0.1,*:slow:0.3:1500ms").
func ParseRules(spec string) ([]Rule, error) {
	var out []Rule
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) < 3 || len(f) > 4 {
			return nil, fmt.Errorf("fault rule %q: want service:kind:rate[:delay]", part)
		}
		r := Rule{Service: f[0], Kind: Kind(f[1])}
		switch r.Service {
		case SvcDynamoDB, SvcStreams, SvcSQS, SvcSNS, SvcS3, SvcSSM, SvcAny:
		default:
			return nil, fmt.Errorf("fault rule %q: unknown service %q", part, r.Service)
		}
		switch r.Kind {
		case Throttle, ServerError, LostAnswer, Slow, Late:
		default:
			return nil, fmt.Errorf("fault rule %q: unknown kind %q", part, r.Kind)
		}
		rate, err := strconv.ParseFloat(f[2], 64)
		if err != nil || rate < 0 || rate > 1 {
			return nil, fmt.Errorf("fault rule %q: rate must be within 0..1", part)
		}
		r.Rate = rate
		if r.Kind == Slow || r.Kind == Late {
			if len(f) != 4 {
				return nil, fmt.Errorf("fault rule %q: slow and late need a delay", part)
			}
			if r.Delay, err = time.ParseDuration(f[3]); err != nil || r.Delay <= 0 || r.Delay > time.Minute {
				return nil, fmt.Errorf("fault rule %q: delay must be a duration up to 1m", part)
			}
		} else if len(f) == 4 {
			return nil, fmt.Errorf("fault rule %q: only slow and late take a delay", part)
		}
		out = append(out, r)
	}
	return out, nil
}

// AWSFaults is an HTTP proxy in front of the AWS endpoint (the emulator)
// that answers a share of the calls the way AWS does under load or in
// trouble. It tells services apart by the request itself (X-Amz-Target, or
// the SigV4 credential scope), so one proxy serves every client of a
// process. Every answer closes its connection, as moto's do, so each call
// of the process opens a connection of its own through the network link in
// front of the proxy.
type AWSFaults struct {
	upstream atomic.Pointer[url.URL]
	rp       *httputil.ReverseProxy
	srv      *http.Server
	ln       net.Listener
	rand     func() float64

	mu    sync.RWMutex
	rules []Rule

	cmu    sync.Mutex
	counts map[string]*atomic.Int64
}

type decisionKey struct{}

// StartAWSFaults listens on a free 127.0.0.1 port and forwards to upstream
// (a loopback URL such as the emulator's; "" until SetUpstream).
func StartAWSFaults(upstream string) (*AWSFaults, error) {
	f := &AWSFaults{rand: rand.Float64, counts: map[string]*atomic.Int64{}}
	if upstream != "" {
		if err := f.SetUpstream(upstream); err != nil {
			return nil, err
		}
	}
	f.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(f.upstream.Load())
			// Keep the Host the client signed.
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		},
		ModifyResponse: f.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				// The client gave up on the call (its attempt timeout).
				f.count("client-gave-up")
				return
			}
			f.count("upstream-error")
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.ln = ln
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// SetUpstream points the proxy at upstream, a loopback URL.
func (f *AWSFaults) SetUpstream(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil {
		return fmt.Errorf("fault proxy upstream: %w", err)
	}
	if err := loopbackOnly(u.Host); err != nil {
		return err
	}
	f.upstream.Store(u)
	return nil
}

// Addr is the proxy's host:port.
func (f *AWSFaults) Addr() string { return f.ln.Addr().String() }

// URL is the proxy's base URL.
func (f *AWSFaults) URL() string { return "http://" + f.Addr() }

// Set replaces the rules (none: every call passes untouched).
func (f *AWSFaults) Set(rules ...Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append([]Rule(nil), rules...)
}

// Close stops the proxy.
func (f *AWSFaults) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		return f.srv.Close()
	}
	return nil
}

// Counts returns "<service>" → calls seen and "<service>/<kind>" → faults
// injected so far.
func (f *AWSFaults) Counts() Counts {
	f.cmu.Lock()
	defer f.cmu.Unlock()
	out := Counts{}
	for k, v := range f.counts {
		out[k] = v.Load()
	}
	return out
}

func (f *AWSFaults) count(key string) {
	f.cmu.Lock()
	n := f.counts[key]
	if n == nil {
		n = &atomic.Int64{}
		f.counts[key] = n
	}
	f.cmu.Unlock()
	n.Add(1)
}

// decide picks the fault for one call of service (the first matching rule
// whose dice roll hits), or "".
func (f *AWSFaults) decide(service string) (Rule, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, r := range f.rules {
		if (r.Service == service || r.Service == SvcAny) && f.rand() < r.Rate {
			return r, true
		}
	}
	return Rule{}, false
}

// ServeHTTP implements http.Handler.
func (f *AWSFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := Classify(r)
	f.count(service)
	w.Header().Set("Connection", "close")
	if f.upstream.Load() == nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	rule, hit := f.decide(service)
	if hit {
		f.count(service + "/" + string(rule.Kind))
		switch rule.Kind {
		case Throttle, ServerError:
			// Drain the body as a server would before answering.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 8<<20))
			writeAWSError(w, service, rule.Kind)
			return
		case Slow:
			t := time.NewTimer(rule.Delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		case Late:
			body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
			time.Sleep(rule.Delay)
			r = r.Clone(context.WithoutCancel(r.Context()))
			r.Body = io.NopCloser(bytes.NewReader(body))
			// Without CloseNotify, so the proxy does not cancel the call
			// when the caller is gone.
			w = detached{w}
		case LostAnswer:
			r = r.WithContext(context.WithValue(r.Context(), decisionKey{}, rule.Kind))
		}
	}
	f.rp.ServeHTTP(w, r)
}

// detached hides the caller's connection state from the reverse proxy.
type detached struct{ w http.ResponseWriter }

func (d detached) Header() http.Header         { return d.w.Header() }
func (d detached) Write(b []byte) (int, error) { return d.w.Write(b) }
func (d detached) WriteHeader(code int)        { d.w.WriteHeader(code) }

func (f *AWSFaults) modifyResponse(resp *http.Response) error {
	if k, _ := resp.Request.Context().Value(decisionKey{}).(Kind); k != LostAnswer {
		return nil
	}
	// The emulator did the work; the client never learns it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	status, header, body := awsError(Classify(resp.Request), ServerError)
	resp.StatusCode = status
	resp.Status = strconv.Itoa(status) + " " + http.StatusText(status)
	resp.Header = header
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// Classify names the AWS service a request calls: the JSON protocols name
// it in X-Amz-Target, the others in the SigV4 credential scope.
func Classify(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, _, _ := strings.Cut(t, ".")
		switch {
		case strings.HasPrefix(prefix, "DynamoDBStreams"):
			return SvcStreams
		case strings.HasPrefix(prefix, "DynamoDB"):
			return SvcDynamoDB
		case prefix == "AmazonSQS":
			return SvcSQS
		case prefix == "AmazonSSM":
			return SvcSSM
		}
		return "other"
	}
	// Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/aws4_request, ...
	auth := r.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		scope := auth[i+len("Credential="):]
		if j := strings.IndexAny(scope, ", "); j >= 0 {
			scope = scope[:j]
		}
		parts := strings.Split(scope, "/")
		if len(parts) == 5 {
			switch parts[3] {
			case "s3":
				return SvcS3
			case "sns":
				return SvcSNS
			case "sqs":
				return SvcSQS
			case "ssm":
				return SvcSSM
			case "dynamodb":
				return SvcDynamoDB
			}
		}
	}
	return "other"
}

func writeAWSError(w http.ResponseWriter, service string, kind Kind) {
	status, header, body := awsError(service, kind)
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// awsError is the answer AWS gives for kind (Throttle or ServerError) in
// service's protocol, so the SDK parses the real error code.
func awsError(service string, kind Kind) (int, http.Header, []byte) {
	h := http.Header{}
	h.Set("Connection", "close")
	h.Set("X-Amzn-Requestid", "chaos-"+strconv.FormatUint(rand.Uint64(), 36))
	throttle := kind == Throttle
	jsonErr := func(contentType, typ, msg string, status int) (int, http.Header, []byte) {
		h.Set("Content-Type", contentType)
		body := fmt.Appendf(nil, `{"__type":%q,"message":%q}`, typ, msg)
		if service == SvcDynamoDB || service == SvcStreams {
			// DynamoDB signs its bodies with a CRC32 the SDK checks.
			h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		}
		return status, h, body
	}
	switch service {
	case SvcDynamoDB, SvcStreams:
		const ns = "com.amazonaws.dynamodb.v20120810#"
		if throttle {
			code := "ProvisionedThroughputExceededException"
			if service == SvcStreams {
				code = "LimitExceededException"
			}
			return jsonErr("application/x-amz-json-1.0", ns+code, "Rate of requests exceeds the allowed throughput (chaos)", http.StatusBadRequest)
		}
		return jsonErr("application/x-amz-json-1.0", ns+"InternalServerError", "Internal server error (chaos)", http.StatusInternalServerError)
	case SvcSQS:
		code, status := "InternalError", http.StatusInternalServerError
		if throttle {
			code, status = "ThrottlingException", http.StatusBadRequest
		}
		side := "Receiver"
		if throttle {
			side = "Sender"
		}
		h.Set("X-Amzn-Query-Error", code+";"+side)
		return jsonErr("application/x-amz-json-1.0", "com.amazonaws.sqs#"+code, "chaos: "+code, status)
	case SvcSSM:
		if throttle {
			return jsonErr("application/x-amz-json-1.1", "ThrottlingException", "Rate exceeded (chaos)", http.StatusBadRequest)
		}
		return jsonErr("application/x-amz-json-1.1", "InternalServerError", "Internal server error (chaos)", http.StatusInternalServerError)
	case SvcSNS:
		code, typ, status := "InternalFailure", "Receiver", http.StatusInternalServerError
		if throttle {
			code, typ, status = "Throttling", "Sender", http.StatusBadRequest
		}
		h.Set("Content-Type", "text/xml")
		return status, h, fmt.Appendf(nil, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>chaos: %s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			typ, code, code, h.Get("X-Amzn-Requestid"))
	default: // S3 and anything else speaking REST-XML
		code, status := "InternalError", http.StatusInternalServerError
		if throttle {
			code, status = "SlowDown", http.StatusServiceUnavailable
		}
		h.Set("Content-Type", "application/xml")
		h.Set("X-Amz-Request-Id", h.Get("X-Amzn-Requestid"))
		return status, h, fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>chaos: %s</Message><RequestId>%s</RequestId></Error>`,
			code, code, h.Get("X-Amzn-Requestid"))
	}
}

// Counts are counters by name.
type Counts map[string]int64

// Sub returns c minus before (zero entries dropped).
func (c Counts) Sub(before Counts) Counts {
	out := Counts{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Add adds o into c.
func (c Counts) Add(o Counts) {
	for k, v := range o {
		c[k] += v
	}
}

// Injected sums the faults (keys with a "/kind").
func (c Counts) Injected() int64 {
	var n int64
	for k, v := range c {
		if strings.Contains(k, "/") {
			n += v
		}
	}
	return n
}

func (c Counts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, c[k])
	}
	return b.String()
}

var errNoProxy = errors.New("no fault proxy for that process")
