package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

func TestMissingVariableStopsWithOneLineNamingIt(t *testing.T) {
	env := map[string]string{"AWS_REGION": "us-east-1", "SSM_PARAMETER_STORE_STATE": "/sales/region-state"}
	err := run(context.Background(), mapLookup(env))
	if err == nil || !strings.Contains(err.Error(), "DYNAMO_SALES_TABLE is required") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want one line naming DYNAMO_SALES_TABLE", err)
	}
	env["DYNAMO_SALES_TABLE"] = "t"
	env["PORT"] = "eighty"
	if err := run(context.Background(), mapLookup(env)); err == nil || !strings.Contains(err.Error(), "PORT must be") {
		t.Fatalf("malformed PORT: %v", err)
	}
}

// useEmulator points the SDK, which reads the process environment, at moto.
func useEmulator(t *testing.T, moto *motoserver.Server) {
	t.Helper()
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// stack is the API run by run() against the emulator, as in production.
type stack struct {
	url  string
	stop context.CancelFunc
	done chan error
}

func startAPI(t *testing.T, region, table, param string) *stack {
	t.Helper()
	moto := motoserver.Shared(t)
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AWS_REGION": region, "DYNAMO_SALES_TABLE": table, "SSM_PARAMETER_STORE_STATE": param,
		"PORT": strconv.Itoa(port), "REGION_STATE_TTL": "5m", "REGION_STATE_MAX_STALE": "10m", "ACCESS_LOG": "false", "LOG_LEVEL": "warn",
	}
	useEmulator(t, moto)
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{url: fmt.Sprintf("http://127.0.0.1:%d", port), stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, mapLookup(env)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(s.url + "/readiness")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case rerr := <-s.done:
			t.Fatalf("API exited during start: %v", rerr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("API not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("run returned %v after shutdown", err)
		}
	})
	return s
}

// awsOperations reads aws_operations_total from /metrics.
func (s *stack) awsOperations(t *testing.T) awsconfig.Counts {
	t.Helper()
	res, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := awsconfig.Counts{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "aws_operations_total{") {
			continue
		}
		// aws_operations_total{operation="PutItem",service="DynamoDB"} 12
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "aws_operations_total{"), "} ")
		var op, svc string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			if k == "operation" {
				op = v
			} else if k == "service" {
				svc = v
			}
		}
		n, _ := strconv.ParseFloat(value, 64)
		out[svc+"."+op] = int64(n)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	return out
}

func TestAWSRequestsPerOperationAgainstEmulator(t *testing.T) {
	moto := motoserver.Shared(t)
	cfg := moto.TestConfig(t, "us-east-1", awsconfig.Options{})
	table := motoserver.UniqueName(t, "sales-events")
	param := "/" + motoserver.UniqueName(t, "state")
	awsfixtures.EventStoreTable(t, ddb.NewFromConfig(cfg), table)
	awsfixtures.RegionState(t, ssm.NewFromConfig(cfg), param, "ACTIVE")
	api := startAPI(t, "us-east-1", table, param)

	// 1,000 operations: 500 POST, 300 GET, 200 DELETE (+100 rejected POSTs).
	const posts, gets, deletes = 500, 300, 200
	ids := make([]string, posts)
	measure := func(name string, n int, want awsconfig.Counts, op func(i int)) {
		t.Helper()
		before := api.awsOperations(t)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() { defer wg.Done(); defer func() { <-sem }(); op(i) }()
		}
		wg.Wait()
		got := api.awsOperations(t).Sub(before)
		if got.String() != want.String() {
			t.Errorf("%d × %s cost %v, want %v", n, name, got, want)
		}
		t.Logf("%d × %s: %v (%.2f AWS calls each)", n, name, got, float64(got.Total(""))/float64(n))
	}
	// An append is one TransactWriteItems: the conditional put and the
	// region's write gate, checked together (ADR 0072).
	measure("POST", posts, awsconfig.Counts{"DynamoDB.TransactWriteItems": posts}, func(i int) {
		res := request(t, "POST", api.url+"/sales", fmt.Sprintf(`{"product":"p%d","amount":%d.25}`, i, i+1), 201)
		ids[i] = res["id"].(string)
	})
	measure("GET", gets, awsconfig.Counts{"DynamoDB.Query": gets}, func(i int) {
		res := request(t, "GET", api.url+"/sales/"+ids[i], "", 200)
		if res["amount"] != float64(i+1)+0.25 {
			t.Errorf("sale %d reads back %v", i, res)
		}
	})
	measure("DELETE", deletes, awsconfig.Counts{"DynamoDB.Query": deletes, "DynamoDB.TransactWriteItems": deletes}, func(i int) {
		request(t, "DELETE", api.url+"/sales/"+ids[i], "", 204)
	})
	measure("bad POST", 100, awsconfig.Counts{}, func(i int) {
		request(t, "POST", api.url+"/sales", `{"product":"p","amount":-1}`, 400)
	})
	if ssmCalls := api.awsOperations(t)["SSM.GetParameter"]; ssmCalls != 1 {
		t.Errorf("SSM.GetParameter called %d times over %d requests, want 1 (at start; then once per TTL)", ssmCalls, posts+gets+deletes+100)
	}
}

func request(t *testing.T, method, url, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return nil
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	if res.StatusCode != want {
		t.Errorf("%s %s → %d %v, want %d", method, url, res.StatusCode, m, want)
	}
	return m
}

func TestRegionStateFlipIsSeenWithinTTLAndMissingParameterFailsClosed(t *testing.T) {
	moto := motoserver.Shared(t)
	cfg := moto.TestConfig(t, "sa-east-1", awsconfig.Options{})
	table := motoserver.UniqueName(t, "sales-events")
	param := "/" + motoserver.UniqueName(t, "state")
	awsfixtures.EventStoreTable(t, ddb.NewFromConfig(cfg), table)
	ssmc := ssm.NewFromConfig(cfg)
	awsfixtures.RegionState(t, ssmc, param, "ACTIVE")
	api := startAPI(t, "sa-east-1", table, param)
	request(t, "POST", api.url+"/sales", `{"product":"p","amount":1}`, 201)
	_ = api // the API re-reads the state once per TTL (5 min here): flip checks use a short TTL below.

	port, _ := motoserver.FreePort()
	env := map[string]string{"AWS_REGION": "sa-east-1", "DYNAMO_SALES_TABLE": table, "SSM_PARAMETER_STORE_STATE": param + "-missing",
		"PORT": strconv.Itoa(port), "REGION_STATE_TTL": "200ms", "ACCESS_LOG": "false", "LOG_LEVEL": "error"}
	useEmulator(t, moto)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, mapLookup(env)) }()
	defer func() { cancel(); <-done }()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitStatus(t, url+"/healthcheck", "GET", "", 200)
	// Missing parameter: not ready, writes refused, reads served.
	waitStatus(t, url+"/readiness", "GET", "", 503)
	waitStatus(t, url+"/sales", "POST", `{"product":"p","amount":1}`, 503)
	// The parameter appears with PASSIVE, then flips to ACTIVE.
	awsfixtures.RegionState(t, ssmc, param+"-missing", "PASSIVE")
	waitStatus(t, url+"/readiness", "GET", "", 200)
	waitStatus(t, url+"/sales", "POST", `{"product":"p","amount":1}`, 503)
	awsfixtures.RegionState(t, ssmc, param+"-missing", "ACTIVE")
	waitStatus(t, url+"/sales", "POST", `{"product":"p","amount":1}`, 201)
	// A value that is neither ACTIVE nor PASSIVE fails closed.
	awsfixtures.RegionState(t, ssmc, param+"-missing", "MAYBE")
	waitStatus(t, url+"/sales", "POST", `{"product":"p","amount":1}`, 503)
}

// waitStatus repeats a request until it answers want (bounded: 5 s).
func waitStatus(t *testing.T, url, method, body string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	last := 0
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if last = res.StatusCode; last == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s %s kept answering %d, want %d", method, url, last, want)
}
