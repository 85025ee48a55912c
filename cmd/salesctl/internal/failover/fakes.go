package failover

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/salesplatform/libs/sales/regionstate"
)

// FakeStates is an in-memory States that records every Set, for tests.
type FakeStates struct {
	mu     sync.Mutex
	States map[string]regionstate.State
	// FailSet makes Set fail for these regions.
	FailSet map[string]bool
	Log     []string
}

// Get implements States.
func (f *FakeStates) Get(_ context.Context, region string) (regionstate.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.States[region]
	if !ok {
		return regionstate.Unknown, fmt.Errorf("no state for %s", region)
	}
	return s, nil
}

// Set implements States.
func (f *FakeStates) Set(_ context.Context, region string, s regionstate.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailSet[region] {
		return fmt.Errorf("set %s: injected failure", region)
	}
	f.States[region] = s
	f.Log = append(f.Log, "state "+region+"="+string(s))
	return nil
}

// FakeTraffic is an in-memory Traffic sharing FakeStates' log when set.
type FakeTraffic struct {
	mu   sync.Mutex
	Dial map[string]int
	Fail bool
	Log  *[]string
}

// Name implements Traffic.
func (*FakeTraffic) Name() string { return "fake dials" }

// Dials implements Traffic.
func (f *FakeTraffic) Dials(context.Context) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.Dial {
		out[k] = v
	}
	return out, nil
}

// SetDial implements Traffic.
func (f *FakeTraffic) SetDial(_ context.Context, region string, dial int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail {
		return fmt.Errorf("dial %s: injected failure", region)
	}
	f.Dial[region] = dial
	if f.Log != nil {
		*f.Log = append(*f.Log, fmt.Sprintf("dial %s=%d", region, dial))
	}
	return nil
}

// FakeConvergence answers after Delay, or fails when Err is set.
type FakeConvergence struct {
	Err   error
	Calls []string
	Log   *[]string
}

// Wait implements Convergence.
func (f *FakeConvergence) Wait(ctx context.Context, from, to string, since time.Time) (string, error) {
	f.Calls = append(f.Calls, from+"→"+to)
	if f.Log != nil {
		*f.Log = append(*f.Log, "converge "+from+"→"+to)
	}
	if f.Err != nil {
		return "", f.Err
	}
	return from + "→" + to + " converged", nil
}

// FakeGates is an in-memory Gates sharing FakeStates' log when set.
type FakeGates struct {
	mu     sync.Mutex
	Closed map[string]bool
	// Via records gates closed through another region's replica.
	Via  map[string]string
	Fail map[string]bool
	Log  *[]string
}

func (f *FakeGates) set(region, via string, closed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Fail[via] {
		return fmt.Errorf("gate of %s in %s: injected failure", region, via)
	}
	if f.Closed == nil {
		f.Closed, f.Via = map[string]bool{}, map[string]string{}
	}
	f.Closed[region] = closed
	if via != region {
		f.Via[region] = via
	}
	if f.Log != nil {
		*f.Log = append(*f.Log, fmt.Sprintf("gate %s=%s", region, map[bool]string{true: "CLOSED", false: "OPEN"}[closed]))
	}
	return nil
}

// Close implements Gates.
func (f *FakeGates) Close(_ context.Context, region string) error { return f.set(region, region, true) }

// CloseVia implements Gates.
func (f *FakeGates) CloseVia(_ context.Context, region, via string) error {
	return f.set(region, via, true)
}

// Open implements Gates.
func (f *FakeGates) Open(_ context.Context, region string) error { return f.set(region, region, false) }
