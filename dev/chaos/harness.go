package chaos

import (
	"fmt"
	"net/url"
	"sort"
	"sync"
)

// Faults is the fault plumbing of a stack: for every service process a
// chain  process → toxiproxy link → AWS fault proxy → emulator, all on
// 127.0.0.1. Hand Endpoint to devstack.Options.Endpoint; with no toxic and
// no rule every call passes untouched.
type Faults struct {
	Net *Network

	mu  sync.Mutex
	aws map[string]*AWSFaults
}

// NewFaults returns empty plumbing.
func NewFaults() *Faults {
	return &Faults{Net: NewNetwork(), aws: map[string]*AWSFaults{}}
}

// Prepare builds the chains of the named processes before the emulator
// is known (Endpoint then only points them at it). Call it before picking
// the stack's free ports, so no chain takes a port the stack chose.
func (f *Faults) Prepare(processes ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range processes {
		if _, err := f.chain(p); err != nil {
			return err
		}
	}
	return nil
}

// chain returns the process's link address, building link and proxy
// first if needed.
func (f *Faults) chain(process string) (string, error) {
	if _, ok := f.aws[process]; ok {
		return f.Net.Link(process, "")
	}
	a, err := StartAWSFaults("")
	if err != nil {
		return "", err
	}
	f.aws[process] = a
	return f.Net.Link(process, a.Addr())
}

// Endpoint builds (or reuses) the chain for process, points it at the
// emulator and returns the URL the process must use as AWS_ENDPOINT_URL.
func (f *Faults) Endpoint(process, motoURL string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr, err := f.chain(process)
	if err != nil {
		return "", err
	}
	if err := f.aws[process].SetUpstream(motoURL); err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "http", Host: addr}).String(), nil
}

// Processes lists the processes that have a chain, sorted.
func (f *Faults) Processes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.aws))
	for p := range f.aws {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// SetAWS sets the AWS fault rules of the named processes (every process
// when none is named); no rules clears them.
func (f *Faults) SetAWS(rules []Rule, processes ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(processes) == 0 {
		for p := range f.aws {
			processes = append(processes, p)
		}
	}
	for _, p := range processes {
		a, ok := f.aws[p]
		if !ok {
			return fmt.Errorf("%w: %s", errNoProxy, p)
		}
		a.Set(rules...)
	}
	return nil
}

// AWSCounts are the fault proxies' counters by process.
func (f *Faults) AWSCounts() map[string]Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]Counts{}
	for p, a := range f.aws {
		out[p] = a.Counts()
	}
	return out
}

// Clear removes every toxic and every AWS rule and brings every link up.
func (f *Faults) Clear() error {
	f.Net.Reset()
	_ = f.SetAWS(nil)
	return f.Net.Up()
}

// Close stops every link and proxy.
func (f *Faults) Close() {
	f.Net.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, a := range f.aws {
		_ = a.Close()
		delete(f.aws, p)
	}
}
