package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/awsconfig"
)

// The fault-injection suite needs the whole local stack (about 3 minutes
// to start on 2 cores): one stack for the package, started by the first
// scenario test, stopped by TestMain.
var (
	stackOnce sync.Once
	stackEnv  *Env
	stackErr  error
	stackStop func()

	passed, failed int
	// lines collects the scenario lines in run order.
	lines []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stackStop != nil {
		stackStop()
	}
	if passed+failed > 0 {
		// The suite's closing line (after the test runner's own PASS/FAIL).
		fmt.Printf("%d passed, %d failed\n", passed, failed)
	}
	os.Exit(code)
}

// mode reads SALES_CHAOS: "" or "fast" (the default: the fast subset),
// "full" (every scenario at full size), "off" (no scenario).
func mode() string {
	m := strings.ToLower(strings.TrimSpace(os.Getenv("SALES_CHAOS")))
	if m == "" {
		return "fast"
	}
	return m
}

func startStack(t *testing.T) *Env {
	t.Helper()
	stackOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sales-chaos-")
		if err != nil {
			stackErr = err
			return
		}
		// The fault chains hold their ports before the stack picks its own.
		faults := NewFaults()
		var names []string
		for _, r := range devstack.DefaultRegions {
			names = append(names, devstack.API+"/"+r, devstack.Runner+"/"+r, devstack.Worker+"/"+r)
		}
		if err := faults.Prepare(names...); err != nil {
			stackErr = err
			return
		}
		ports, err := devstack.FreePorts(devstack.DefaultRegions)
		if err != nil {
			stackErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		defer cancel()
		start := time.Now()
		stk, err := devstack.Start(ctx, devstack.Options{
			Dir: dir, BinDir: filepath.Join(dir, "bin"), Ports: ports, Progress: os.Stderr,
			ReplicationLag: 200 * time.Millisecond, ReadyTimeout: 3 * time.Minute,
			// The workers run at the local stack's default takeover delay
			// (20 s): a backlog or a pause longer than it makes both
			// regions process an event, which the checks must absorb.
			Endpoint: faults.Endpoint,
		})
		stackStop = func() {
			if stk != nil {
				stk.Stop(context.Background())
			}
			faults.Close()
			if os.Getenv("SALES_CHAOS_KEEP") == "" {
				_ = os.RemoveAll(dir)
			} else {
				fmt.Fprintln(os.Stderr, "chaos: keeping", dir)
			}
		}
		if err != nil {
			stackErr = fmt.Errorf("the local stack did not start: %w", err)
			return
		}
		fmt.Fprintf(os.Stderr, "chaos: local stack ready in %.1fs (dir %s); fault chains for %v\n", time.Since(start).Seconds(), dir, faults.Processes())
		clients, err := devstack.NewClients(ctx, stk.Endpoints().Moto, stk.Outputs(), awsconfig.Options{})
		if err != nil {
			stackErr = err
			return
		}
		seed := uint64(time.Now().UnixNano())
		if s, err := strconv.ParseUint(os.Getenv("SALES_CHAOS_SEED"), 10, 64); err == nil {
			seed = s
		}
		fmt.Fprintf(os.Stderr, "chaos: seed %d (SALES_CHAOS_SEED to repeat)\n", seed)
		rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
		stackEnv = &Env{
			Stack: stk, Faults: faults, Clients: clients, Rand: rng,
			Load: &Load{
				HTTP:        &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
				RetryBudget: 3 * time.Minute,
				Rand:        rand.New(rand.NewPCG(seed+1, seed)),
			},
			RecoverTimeout: 4 * time.Minute,
		}
	})
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	return stackEnv
}

// TestFaultInjection runs the fault scenarios against one local stack:
// the fast subset by default, every scenario with SALES_CHAOS=full.
func TestFaultInjection(t *testing.T) {
	m := mode()
	if m == "off" || testing.Short() {
		t.Skip("SALES_CHAOS=off or -short: no fault scenario")
	}
	size := FastSize
	if m == "full" {
		size = FullSize
	}
	var run []Scenario
	only := os.Getenv("SALES_CHAOS_ONLY") // comma-separated scenario names
	if unknown := unknownNames(only, Scenarios(size)); len(unknown) > 0 {
		t.Fatalf("SALES_CHAOS_ONLY names no scenario %v; the scenarios are %v", unknown, scenarioNames(Scenarios(size)))
	}
	for _, sc := range Scenarios(size) {
		switch {
		case only != "":
			if !contains(strings.Split(only, ","), sc.Name) {
				continue
			}
		case m != "full" && !sc.Fast:
			continue
		}
		run = append(run, sc)
	}
	e := startStack(t)
	suiteStart := time.Now()
	fmt.Println(Header)
	for _, sc := range run {
		t.Run(sc.Name, func(t *testing.T) {
			e.Logf = t.Logf
			t.Logf("injects: %s", sc.Injects)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			res := e.Execute(ctx, sc)
			for _, n := range res.Notes {
				t.Log(n)
			}
			line := res.Line(e.Stack.Regions())
			lines = append(lines, line)
			fmt.Println(line)
			if res.Passed() {
				passed++
				return
			}
			failed++
			for _, f := range res.Failures {
				t.Error(f)
			}
		})
	}
	t.Logf("%d scenarios (%s) in %.1fs after the stack was up", len(run), m, time.Since(suiteStart).Seconds())
}

// unknownNames are the names in a comma-separated list that no scenario has.
func unknownNames(list string, scs []Scenario) []string {
	var unknown []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" && !contains(scenarioNames(scs), n) {
			unknown = append(unknown, n)
		}
	}
	return unknown
}

func scenarioNames(scs []Scenario) []string {
	var out []string
	for _, sc := range scs {
		out = append(out, sc.Name)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}
