package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesplatform/libs/sales/eventstore"
	"github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/services/sales-api/internal/app"
	"github.com/salesplatform/services/sales-api/internal/httpapi"
)

// state is a settable region state for tests.
type state struct{ s regionstate.State }

func (s *state) State() regionstate.State { return s.s }

type testAPI struct {
	t     *testing.T
	app   *fiber.App
	store *memory.Store
	state *state
	spec  *openapi3.T
	url   string
}

func newAPI(t *testing.T) *testAPI {
	t.Helper()
	st := &state{s: regionstate.Active}
	mem := memory.New()
	return newAPIWith(t, mem, st, mem)
}

func newAPIWith(t *testing.T, s eventstore.Store, st *state, mem *memory.Store) *testAPI {
	t.Helper()
	return newAPIAuth(t, s, st, mem, httpapi.Auth{}, app.Keys{})
}

func newAPIAuth(t *testing.T, s eventstore.Store, st *state, mem *memory.Store, auth httpapi.Auth, keys app.Keys) *testAPI {
	t.Helper()
	a := httpapi.New(httpapi.Deps{
		Auth:     auth,
		Service:  &app.Service{Store: s, Region: "us-east-1", State: st, Keys: keys},
		Registry: prometheus.NewRegistry(),
		Ready: func(context.Context) error {
			if st.s == regionstate.Unknown {
				return regionstate.ErrParameterNotFound
			}
			return nil
		},
		RetryAfter: 6,
		Version:    httpapi.Version{Version: "test", Commit: "abc", Region: "us-east-1"},
	})
	ln := listen(t)
	go func() { _ = a.Listener(ln) }()
	t.Cleanup(func() { _ = a.Shutdown() })
	return &testAPI{t: t, app: a, store: mem, state: st, spec: loadSpec(t), url: "http://" + ln.Addr().String()}
}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	return doc
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// do sends a request and checks what every response must have: an
// X-Request-Id, and for errors a {"error": "..."} body.
func (a *testAPI) do(method, path, body string, headers ...string) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.url+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.URL.Opaque = path // send the path exactly as written, tricks included
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, body: b}
	if res.Header.Get("X-Request-Id") == "" {
		a.t.Errorf("%s %s → %d has no X-Request-Id", method, path, res.StatusCode)
	}
	if res.StatusCode >= 400 {
		m := r.json(a.t)
		if msg, ok := m["error"].(string); !ok || msg == "" || len(m) != 1 {
			a.t.Errorf("%s %s → %d: error body %s is not {\"error\": \"...\"}", method, path, res.StatusCode, b)
		}
	}
	return r
}

// conform checks a response body against the OpenAPI document.
func (a *testAPI) conform(method, route string, r response) {
	a.t.Helper()
	item := a.spec.Paths.Value(route)
	if item == nil {
		a.t.Fatalf("route %s is not in openapi.yaml", route)
	}
	op := item.GetOperation(method)
	if op == nil {
		a.t.Fatalf("%s %s is not in openapi.yaml", method, route)
	}
	resp := op.Responses.Status(r.status)
	if resp == nil {
		a.t.Fatalf("%s %s → %d is not documented", method, route, r.status)
	}
	ct := resp.Value.Content.Get("application/json")
	if ct == nil {
		return
	}
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		a.t.Fatalf("body is not JSON: %v", err)
	}
	if err := ct.Schema.Value.VisitJSON(v); err != nil {
		a.t.Errorf("%s %s → %d body %s does not match the document: %v", method, route, r.status, r.body, err)
	}
}

const seedBody = `{"product":"O Pequeno Principe", "amount": 14.00}`

func TestSeedCurlExampleWithFormContentType(t *testing.T) {
	a := newAPI(t)
	// curl -X POST .../sales -d '{...}' sends form encoding.
	r := a.do("POST", "/sales", seedBody, "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 201 {
		t.Fatalf("status %d body %s, want 201", r.status, r.body)
	}
	a.conform("POST", "/sales", r)
	m := r.json(t)
	if m["product"] != "O Pequeno Principe" || m["amount"] != 14.0 || m["processed"] != false || m["status"] != "CREATED" {
		t.Errorf("body %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/sales/"+m["id"].(string) {
		t.Errorf("Location %q", loc)
	}
	g := a.do("GET", r.header.Get("Location"), "")
	if g.status != 200 {
		t.Fatalf("GET created sale: %d", g.status)
	}
	a.conform("GET", "/sales/{id}", g)
	if g.json(t)["id"] != m["id"] {
		t.Errorf("GET returned another sale")
	}
}

func TestGetAndDeleteContract(t *testing.T) {
	a := newAPI(t)
	created := a.do("POST", "/sales", `{"product":"Livro","amount":10.5}`).json(t)
	path := "/sales/" + created["id"].(string)
	unknown := "/sales/0190a0b0-0000-7000-8000-000000000000"

	cases := []struct {
		name, method, path, route string
		want                      int
	}{
		{"get unknown is 404 (the original answered 500)", "GET", unknown, "/sales/{id}", 404},
		{"get non-UUID is 400", "GET", "/sales/abc", "/sales/{id}", 400},
		{"get braced UUID is 400", "GET", "/sales/{" + created["id"].(string)[:34] + "}", "/sales/{id}", 400},
		{"get urn UUID is 400", "GET", "/sales/urn:uuid:0190a0b0-0000-7000-8000-0000000000", "/sales/{id}", 400},
		{"delete unknown is 404 (the original answered 204)", "DELETE", unknown, "/sales/{id}", 404},
		{"delete is 204", "DELETE", path, "/sales/{id}", 204},
		{"delete again is 204", "DELETE", path, "/sales/{id}", 204},
		{"get cancelled is 200", "GET", path, "/sales/{id}", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(c.method, c.path, "")
			if r.status != c.want {
				t.Fatalf("status %d body %s, want %d", r.status, r.body, c.want)
			}
			a.conform(c.method, c.route, r)
		})
	}
	if got := a.do("GET", path, "").json(t)["status"]; got != "CANCELLED" {
		t.Errorf("status after cancel %v", got)
	}
	if n := a.store.Len(); n != 2 {
		t.Errorf("store holds %d events, want 2 (created + one cancel)", n)
	}
}

func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	cases := []struct {
		name, body string
		want       int
		msg        string
	}{
		{"empty body", "", 400, "request body is required"},
		{"blank body", "   ", 400, "request body is required"},
		{"not JSON", "product=x&amount=1", 400, "must be a JSON object"},
		{"truncated JSON", `{"product":"x","amount":`, 400, "not valid JSON"},
		{"array", `[{"product":"x","amount":1}]`, 400, "must be a JSON object"},
		{"trailing data", `{"product":"x","amount":1} {}`, 400, "nothing after it"},
		{"missing product", `{"amount":1}`, 400, "product is required"},
		{"null product", `{"product":null,"amount":1}`, 400, "product is required"},
		{"blank product", `{"product":"   ","amount":1}`, 400, "product is required"},
		{"product not a string", `{"product":12,"amount":1}`, 400, "product must be a string"},
		{"product 201 chars", `{"product":"` + strings.Repeat("é", 201) + `","amount":1}`, 400, "at most 200"},
		{"product 10,000 chars", `{"product":"` + long + `","amount":1}`, 400, "at most 200"},
		{"control character", `{"product":"a\u0000b","amount":1}`, 400, "control characters"},
		{"newline in product", `{"product":"a\nb","amount":1}`, 400, "control characters"},
		{"bidi override in product", `{"product":"Livro\u202eodni","amount":1}`, 400, "text-direction"},
		{"lone zero-width space", `{"product":"\u200b","amount":1}`, 400, "invisible"},
		{"missing amount", `{"product":"x"}`, 400, "amount is required"},
		{"amount as string", `{"product":"x","amount":"14.00"}`, 400, "amount must be a number"},
		{"amount NaN string", `{"product":"x","amount":"NaN"}`, 400, "amount must be a number"},
		{"amount NaN literal", `{"product":"x","amount":NaN}`, 400, "not valid JSON"},
		{"amount Infinity", `{"product":"x","amount":Infinity}`, 400, "not valid JSON"},
		{"amount bool", `{"product":"x","amount":true}`, 400, "amount must be a number"},
		{"amount -1", `{"product":"x","amount":-1}`, 400, "greater than 0"},
		{"amount 0", `{"product":"x","amount":0}`, 400, "greater than 0"},
		{"amount 1e309", `{"product":"x","amount":1e309}`, 400, "at most 1000000000"},
		{"amount absurd", `{"product":"x","amount":1000000000.01}`, 400, "at most 1000000000"},
		{"amount 3 decimals", `{"product":"x","amount":1.001}`, 400, "2 decimal places"},
		{"amount tiny", `{"product":"x","amount":1e-300}`, 400, "2 decimal places"},
		{"amount huge exponent", `{"product":"x","amount":1e999999999999}`, 400, "at most 1000000000"},
		{"body over 64 KiB", `{"product":"` + strings.Repeat("a", 70_000) + `","amount":1}`, 413, "64 KiB"},
	}
	a := newAPI(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do("POST", "/sales", c.body)
			if r.status != c.want {
				t.Fatalf("status %d body %s, want %d", r.status, r.body, c.want)
			}
			if msg := r.json(t)["error"].(string); !strings.Contains(msg, c.msg) {
				t.Errorf("error %q does not say %q", msg, c.msg)
			}
		})
	}
	if n := a.store.Len(); n != 0 {
		t.Fatalf("bad input wrote %d events", n)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	a := newAPI(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/nope", 404},
		{"GET", "/sales/../etc/passwd", 404},
		{"GET", "/sales/%2e%2e%2fetc", 400},
		{"PUT", "/sales", 405},
		{"PATCH", "/sales/0190a0b0-0000-7000-8000-000000000000", 405},
		{"POST", "/healthcheck", 405},
	} {
		r := a.do(c.method, c.path, "")
		if r.status != c.want {
			t.Errorf("%s %s → %d %s, want %d", c.method, c.path, r.status, r.body, c.want)
		}
	}
	if n := a.store.Len(); n != 0 {
		t.Fatalf("wrote %d events", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	a := newAPI(t)
	first := a.do("POST", "/sales", seedBody, "Idempotency-Key", "order-42")
	if first.status != 201 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	again := a.do("POST", "/sales", `{"amount":14, "product":"O Pequeno Principe"}`, "Idempotency-Key", "order-42")
	if again.status != 201 || again.json(t)["id"] != first.json(t)["id"] || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same key and body: %d %s, want the same sale", again.status, again.body)
	}
	other := a.do("POST", "/sales", `{"product":"Outro","amount":14}`, "Idempotency-Key", "order-42")
	if other.status != 422 {
		t.Fatalf("same key, other body: %d %s, want 422", other.status, other.body)
	}
	a.conform("POST", "/sales", other)
	if n := a.store.Len(); n != 1 {
		t.Fatalf("store holds %d events, want 1", n)
	}
	bad := a.do("POST", "/sales", seedBody, "Idempotency-Key", strings.Repeat("k", 256))
	if bad.status != 400 {
		t.Errorf("overlong key: %d", bad.status)
	}
}

func TestPassiveRegionRefusesWritesAndServesReads(t *testing.T) {
	a := newAPI(t)
	id := a.do("POST", "/sales", seedBody).json(t)["id"].(string)
	for _, st := range []regionstate.State{regionstate.Passive, regionstate.Unknown} {
		a.state.s = st
		for _, req := range [][2]string{{"POST", "/sales"}, {"DELETE", "/sales/" + id}} {
			r := a.do(req[0], req[1], seedBody)
			if r.status != 503 || r.header.Get("Retry-After") != "6" {
				t.Errorf("%s: %s %s → %d Retry-After %q, want 503 with Retry-After", st, req[0], req[1], r.status, r.header.Get("Retry-After"))
			}
			if msg := r.json(t)["error"].(string); !strings.Contains(msg, string(st)) {
				t.Errorf("%s: message %q does not say why", st, msg)
			}
		}
		if r := a.do("GET", "/sales/"+id, ""); r.status != 200 {
			t.Errorf("%s: read → %d, want 200", st, r.status)
		}
	}
	if r := a.do("GET", "/readiness", ""); r.status != 503 {
		t.Errorf("readiness with unknown state: %d", r.status)
	}
	a.state.s = regionstate.Active
	if r := a.do("POST", "/sales", seedBody); r.status != 201 {
		t.Errorf("active again: %d", r.status)
	}
	if n := a.store.Len(); n != 2 {
		t.Errorf("store holds %d events, want 2", n)
	}
}

// A closed write gate (a failover moved writes away, whatever the cached
// state says) is a 503 with Retry-After and writes nothing; reads go on.
func TestClosedWriteGateRefusesWrites(t *testing.T) {
	a := newAPI(t)
	id := a.do("POST", "/sales", seedBody).json(t)["id"].(string)
	a.store.SetWritesClosed(true)
	for _, req := range [][2]string{{"POST", "/sales"}, {"DELETE", "/sales/" + id}} {
		r := a.do(req[0], req[1], seedBody)
		if r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s through a closed gate → %d, want 503 with Retry-After", req[0], req[1], r.status)
		}
		a.conform(req[0], map[string]string{"POST": "/sales", "DELETE": "/sales/{id}"}[req[0]], r)
	}
	if r := a.do("GET", "/sales/"+id, ""); r.status != 200 || r.json(t)["status"] != "CREATED" {
		t.Errorf("read through a closed gate → %d %s", r.status, r.body)
	}
	if n := a.store.Len(); n != 1 {
		t.Errorf("store holds %d events, want 1", n)
	}
}

// With the gateway's authorization a request without the caller's
// identity is 401 and writes nothing; a caller reads and cancels its own
// sales (another's answer 404, as for an unknown id); an operator reads
// and cancels every sale; probes need no identity.
func TestGatewayAuthorization(t *testing.T) {
	mem := memory.New()
	a := newAPIAuth(t, mem, &state{s: regionstate.Active}, mem,
		httpapi.Auth{Mode: httpapi.AuthGateway, Operators: []string{"arn:aws:iam::1:role/ops*"}},
		app.Keys{Secret: []byte("0123456789abcdef")})
	const who = "X-Sales-Principal"
	if r := a.do("POST", "/sales", seedBody); r.status != 401 {
		t.Fatalf("POST without identity: %d, want 401", r.status)
	}
	if r := a.do("GET", "/healthcheck", ""); r.status != 200 {
		t.Fatalf("probe without identity: %d", r.status)
	}
	r := a.do("POST", "/sales", seedBody, who, "arn:aws:iam::1:role/alice")
	if r.status != 201 {
		t.Fatalf("POST as alice: %d %s", r.status, r.body)
	}
	a.conform("POST", "/sales", r)
	path := "/sales/" + r.json(t)["id"].(string)
	for _, c := range []struct {
		method, principal string
		want              int
	}{
		{"GET", "", 401}, {"GET", "arn:aws:iam::1:role/bob", 404}, {"DELETE", "arn:aws:iam::1:role/bob", 404},
		{"GET", "arn:aws:iam::1:role/alice", 200}, {"GET", "arn:aws:iam::1:role/ops-oncall", 200}, {"DELETE", "arn:aws:iam::1:role/ops-oncall", 204},
	} {
		var res response
		if c.principal == "" {
			res = a.do(c.method, path, "")
		} else {
			res = a.do(c.method, path, "", who, c.principal)
		}
		if res.status != c.want {
			t.Errorf("%s as %q: %d, want %d", c.method, c.principal, res.status, c.want)
		}
	}
	if n := mem.Len(); n != 2 {
		t.Errorf("store holds %d events, want 2 (alice's sale, the operator's cancel)", n)
	}
}

func TestProbesAndVersion(t *testing.T) {
	a := newAPI(t)
	for _, p := range []string{"/healthcheck", "/liveness", "/readiness", "/version", "/metrics", "/openapi.yaml"} {
		r := a.do("GET", p, "")
		if r.status != 200 {
			t.Errorf("%s → %d", p, r.status)
		}
		a.conform("GET", p, r)
	}
	a.do("GET", "/sales/abc", "")
	m := a.do("GET", "/metrics", "")
	if !strings.Contains(string(m.body), `http_requests_total{method="GET",route="/sales/:id",status="400"} 1`) {
		t.Errorf("metrics lack the request counter:\n%s", m.body)
	}
}

func TestRequestIDIsKeptWhenWellFormed(t *testing.T) {
	a := newAPI(t)
	if got := a.do("GET", "/healthcheck", "", "X-Request-Id", "trace-123").header.Get("X-Request-Id"); got != "trace-123" {
		t.Errorf("kept id %q", got)
	}
	if got := a.do("GET", "/healthcheck", "", "X-Request-Id", "bad id\u00e9").header.Get("X-Request-Id"); got == "bad id\u00e9" {
		t.Error("malformed id echoed back")
	}
}

// Every route the app serves is in the OpenAPI document and vice versa.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	a := newAPI(t)
	served := map[string]bool{}
	for _, r := range a.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" || r.Path == "/" {
			continue
		}
		served[r.Method+" "+strings.ReplaceAll(r.Path, ":id", "{id}")] = true
	}
	documented := map[string]bool{}
	for path, item := range a.spec.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not documented", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is documented but not served", k)
		}
	}
}

// blockingStore holds appends until released, to observe shutdown.
type blockingStore struct {
	*memory.Store
	entered, release chan struct{}
}

func (b *blockingStore) Append(ctx context.Context, e eventstoreEnvelope) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.Append(ctx, e)
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	mem := memory.New()
	bs := &blockingStore{Store: mem, entered: make(chan struct{}), release: make(chan struct{})}
	a := newAPIWith(t, bs, &state{s: regionstate.Active}, mem)
	url := a.url

	done := make(chan int, 1)
	go func() {
		res, err := http.Post(url+"/sales", "application/json", strings.NewReader(seedBody))
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	<-bs.entered
	shut := make(chan error, 1)
	go func() { shut <- a.app.ShutdownWithTimeout(5 * time.Second) }()
	time.Sleep(100 * time.Millisecond)
	if _, err := http.Get(url + "/healthcheck"); err == nil {
		t.Error("new connections still accepted after shutdown began")
	}
	close(bs.release)
	if status := <-done; status != 201 {
		t.Errorf("in-flight request ended with %d, want 201", status)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if mem.Len() != 1 {
		t.Errorf("in-flight sale not stored")
	}
}
