package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// backend is a fake regional API: /healthcheck answers health, anything
// else answers 201 with the region's name.
type backend struct {
	name   string
	srv    *httptest.Server
	health atomic.Int32
	hits   atomic.Int64
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.health.Store(http.StatusOK)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthcheck" {
			w.WriteHeader(int(b.health.Load()))
			return
		}
		b.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, name+":"+r.Method+":"+r.URL.Path+":"+string(body))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func newEdge(t *testing.T, dials map[string]int, backends ...*backend) *Edge {
	t.Helper()
	var ups []Upstream
	for _, b := range backends {
		ups = append(ups, Upstream{Region: b.name, URL: b.srv.URL, Dial: dials[b.name]})
	}
	e, err := New(Config{Upstreams: ups, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.CheckNow(context.Background())
	return e
}

// send sends n requests, each from another client address.
func send(t *testing.T, e *Edge, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := range n {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/sales", strings.NewReader(`{"x":1}`))
		req.RemoteAddr = fmt.Sprintf("10.0.%d.%d:4321", i/256, i%256)
		e.ServeHTTP(rec, req)
		got[rec.Header().Get(RegionHeader)+":"+http.StatusText(rec.Code)]++
	}
	return got
}

func TestRoutingByDials(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	tests := []struct {
		name  string
		dials map[string]int
		want  map[string]bool // region:status seen
	}{
		{"both on", map[string]int{"us-east-1": 100, "sa-east-1": 100}, map[string]bool{"us-east-1:Created": true, "sa-east-1:Created": true}},
		{"only a", map[string]int{"us-east-1": 100, "sa-east-1": 0}, map[string]bool{"us-east-1:Created": true}},
		{"only b", map[string]int{"us-east-1": 0, "sa-east-1": 30}, map[string]bool{"sa-east-1:Created": true}},
		{"none", map[string]int{"us-east-1": 0, "sa-east-1": 0}, map[string]bool{":Service Unavailable": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEdge(t, tc.dials, a, b)
			got := send(t, e, 200)
			for k := range got {
				if !tc.want[k] {
					t.Errorf("saw %s (%v), want only %v", k, got, tc.want)
				}
			}
			for k := range tc.want {
				if got[k] == 0 {
					t.Errorf("never saw %s (%v)", k, got)
				}
			}
		})
	}
}

func TestForwardsMethodPathAndBody(t *testing.T) {
	a := newBackend(t, "us-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 100}, a)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/sales?x=1", strings.NewReader(`{"product":"p"}`)))
	if rec.Code != http.StatusCreated || rec.Body.String() != `us-east-1:POST:/sales:{"product":"p"}` {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("X-Got-Forwarded-For") == "" {
		t.Error("X-Forwarded-For not set")
	}
}

func TestProportionalToDials(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 75, "sa-east-1": 25}, a, b)
	e.cfg.Affinity = AffinityNone
	i := 0
	e.cfg.Rand = func() float64 { i++; return float64(i%100) / 100 }
	got := send(t, e, 400)
	if got["us-east-1:Created"] != 300 || got["sa-east-1:Created"] != 100 {
		t.Fatalf("split %v, want 300/100", got)
	}
}

func TestUnhealthyRegionGetsNothing(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 100, "sa-east-1": 100}, a, b)
	b.health.Store(http.StatusInternalServerError)
	e.CheckNow(context.Background())
	if got := send(t, e, 50); got["sa-east-1:Created"] == 0 {
		t.Fatalf("one failed check removed it; want it kept until the second: %v", got)
	}
	e.CheckNow(context.Background())
	if got := send(t, e, 100); got["sa-east-1:Created"] != 0 || got["us-east-1:Created"] != 100 {
		t.Fatalf("unhealthy region got traffic: %v", got)
	}
	b.health.Store(http.StatusOK)
	e.CheckNow(context.Background())
	if got := send(t, e, 200); got["sa-east-1:Created"] == 0 {
		t.Fatalf("recovered region got nothing: %v", got)
	}
}

func TestUnreachableRegionIsDroppedAtOnce(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 100, "sa-east-1": 100}, a, b)
	b.srv.Close()
	got := send(t, e, 100)
	if got["sa-east-1:Bad Gateway"] != 1 {
		t.Fatalf("want exactly one 502 before the region is dropped: %v", got)
	}
	if got["us-east-1:Created"] != 99 {
		t.Fatalf("%v", got)
	}
}

func TestAdminAPI(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 100, "sa-east-1": 100}, a, b)
	admin := httptest.NewServer(e.AdminHandler())
	defer admin.Close()
	put := func(path, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, admin.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		path, body string
		code       int
	}{
		{"/dials/sa-east-1", `{"dial":0}`, 200},
		{"/dials/sa-east-1", `{"dial":101}`, 400},
		{"/dials/sa-east-1", `{"dial":-1}`, 400},
		{"/dials/sa-east-1", `{}`, 400},
		{"/dials/sa-east-1", `not json`, 400},
		{"/dials/eu-west-1", `{"dial":5}`, 404},
	}
	for _, tc := range tests {
		if code, body := put(tc.path, tc.body); code != tc.code || !strings.HasPrefix(body, "{") {
			t.Errorf("PUT %s %s: %d %s, want %d", tc.path, tc.body, code, body, tc.code)
		}
	}
	resp, err := http.Get(admin.URL + "/dials")
	if err != nil {
		t.Fatal(err)
	}
	var d DialsResponse
	_ = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if len(d.Regions) != 2 || d.Regions[0].Region != "sa-east-1" || d.Regions[0].Dial != 0 || d.Regions[1].Dial != 100 || !d.Regions[1].Healthy {
		t.Fatalf("dials %+v", d)
	}
	if got := send(t, e, 50); got["sa-east-1:Created"] != 0 {
		t.Fatalf("dial 0 still got traffic: %v", got)
	}
}

func TestNewRejectsBadUpstreams(t *testing.T) {
	for _, ups := range [][]Upstream{
		nil,
		{{Region: "", URL: "http://127.0.0.1:1"}},
		{{Region: "a", URL: "nope"}},
		{{Region: "a", URL: "http://127.0.0.1:1", Dial: 101}},
		{{Region: "a", URL: "http://127.0.0.1:1"}, {Region: "a", URL: "http://127.0.0.1:2"}},
	} {
		if _, err := New(Config{Upstreams: ups}); err == nil {
			t.Errorf("accepted %+v", ups)
		}
	}
}

func TestDialChangeCallbackSeesTheNewDials(t *testing.T) {
	a := newBackend(t, "us-east-1")
	got := make(chan []RegionState, 1)
	e, err := New(Config{Upstreams: []Upstream{{Region: "us-east-1", URL: a.srv.URL, Dial: 100}}, Logger: slog.New(slog.DiscardHandler),
		OnDialChange: func(d []RegionState) { got <- d }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetDial("us-east-1", 40); err != nil {
		t.Fatal(err)
	}
	if d := <-got; len(d) != 1 || d[0].Dial != 40 {
		t.Fatalf("callback got %+v", d)
	}
}

// Source-IP affinity: a client keeps its region (so it reads its own
// writes), clients spread over the regions in proportion to the dials,
// and when a region goes away only its clients move.
func TestClientAffinityBySourceIP(t *testing.T) {
	a, b := newBackend(t, "us-east-1"), newBackend(t, "sa-east-1")
	e := newEdge(t, map[string]int{"us-east-1": 100, "sa-east-1": 100}, a, b)
	from := func(ip string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/sales/x", nil)
		req.RemoteAddr = ip + ":" + fmt.Sprint(1000+len(ip))
		e.ServeHTTP(rec, req)
		return rec.Header().Get(RegionHeader)
	}
	home := map[string]string{}
	share := map[string]int{}
	for i := range 2000 {
		ip := fmt.Sprintf("10.1.%d.%d", i/256, i%256)
		home[ip] = from(ip)
		share[home[ip]]++
		for range 3 {
			if got := from(ip); got != home[ip] {
				t.Fatalf("client %s went to %s, then %s", ip, home[ip], got)
			}
		}
	}
	if share["us-east-1"] < 850 || share["sa-east-1"] < 850 {
		t.Fatalf("clients per region %v, want about half each", share)
	}
	// sa-east-1's dial to 25: about a fifth of the clients there, and the
	// clients that stay on us-east-1 never move.
	if err := e.SetDial("sa-east-1", 25); err != nil {
		t.Fatal(err)
	}
	moved, onSA := 0, 0
	for ip, was := range home {
		now := from(ip)
		if now == "sa-east-1" {
			onSA++
		}
		if was == "us-east-1" && now != was {
			moved++
		}
	}
	if moved != 0 || onSA < 250 || onSA > 550 {
		t.Fatalf("after the dial change %d us-east-1 clients moved (want 0), %d of 2000 on sa-east-1 (want about 400)", moved, onSA)
	}
	// sa-east-1 unhealthy: its clients go to us-east-1; back, they return.
	b.health.Store(http.StatusInternalServerError)
	e.CheckNow(context.Background())
	e.CheckNow(context.Background())
	for ip := range home {
		if got := from(ip); got != "us-east-1" {
			t.Fatalf("client %s went to %s while sa-east-1 is down", ip, got)
		}
	}
	b.health.Store(http.StatusOK)
	e.CheckNow(context.Background())
	back := 0
	for ip, was := range home {
		if was == "sa-east-1" && from(ip) == "sa-east-1" {
			back++
		}
	}
	if back == 0 {
		t.Fatal("no client came back to sa-east-1 once healthy")
	}
}
