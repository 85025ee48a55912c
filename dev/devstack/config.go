// Package devstack runs the whole two-region system on one machine: moto
// (the embedded AWS) on loopback, the resources through the infrastructure's
// local Terragrunt environment, and per region the sales API, the stream
// publisher's local runner and the worker, plus the two development-only
// stand-ins (replication between the regions, the edge in front of them).
//
// salesdev (dev/cmd/salesdev) runs it as a long-lived supervisor; the
// end-to-end tests (dev/e2e) run it in process, on free ports, in a
// temporary directory. Every server binds 127.0.0.1.
package devstack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// DefaultRegions are the local stack's regions, primary first.
var DefaultRegions = []string{"us-east-1", "sa-east-1"}

// Ports are every listening port of the stack (all on 127.0.0.1).
type Ports struct {
	Moto        int            `json:"moto"`
	Edge        int            `json:"edge"`
	EdgeAdmin   int            `json:"edge_admin"`
	Replication int            `json:"replication"`
	API         map[string]int `json:"api"`
	Worker      map[string]int `json:"worker"`
	Runner      map[string]int `json:"runner"`
}

// DefaultPorts are the documented ports: APIs on 8080, 8081, ...
func DefaultPorts(regions []string) Ports {
	p := Ports{Moto: 4566, Edge: 8000, EdgeAdmin: 8001, Replication: 9190,
		API: map[string]int{}, Worker: map[string]int{}, Runner: map[string]int{}}
	for i, r := range regions {
		p.API[r] = 8080 + i
		p.Worker[r] = 9180 + i
		p.Runner[r] = 9102 + i
	}
	return p
}

// FreePorts picks free loopback ports for everything (tests).
func FreePorts(regions []string) (Ports, error) {
	p := Ports{API: map[string]int{}, Worker: map[string]int{}, Runner: map[string]int{}}
	seen := map[int]bool{}
	next := func() (int, error) {
		for range 20 {
			n, err := motoserver.FreePort()
			if err != nil {
				return 0, err
			}
			if !seen[n] {
				seen[n] = true
				return n, nil
			}
		}
		return 0, errors.New("no free port")
	}
	var err error
	set := func(dst *int) {
		if err == nil {
			*dst, err = next()
		}
	}
	set(&p.Moto)
	set(&p.Edge)
	set(&p.EdgeAdmin)
	set(&p.Replication)
	for _, r := range regions {
		var a, w, s int
		set(&a)
		set(&w)
		set(&s)
		p.API[r], p.Worker[r], p.Runner[r] = a, w, s
	}
	return p, err
}

// Options configure a stack.
type Options struct {
	// Root is the repository root (go.work, Taskfile.yml, tools/).
	Root string
	// Dir holds the stack's state, logs, checkpoints and outputs (.local).
	Dir string
	// BinDir receives the built binaries (default Root/bin).
	BinDir  string
	Regions []string
	Ports   Ports
	// Provisioner creates the resources (default: the infrastructure's
	// local Terragrunt environment).
	Provisioner Provisioner
	// ReplicationLag is the stand-in's initial lag (default 200 ms, about
	// what global tables show).
	ReplicationLag time.Duration
	// StateTTL is how often the API and workers re-read the region state
	// (default 1 s locally, so a failover takes effect quickly).
	StateTTL time.Duration
	// TakeoverDelay is how old another region's event must be before a
	// worker processes it (default 20 s locally).
	TakeoverDelay time.Duration
	// ReadyTimeout bounds the wait for every process (default 90 s).
	ReadyTimeout time.Duration
	// Progress receives one human line per step (default: discarded).
	Progress io.Writer
	// SkipBuild uses the binaries already in BinDir.
	SkipBuild bool
	// ExtraEnv is added to every service process (tests: fault flags).
	ExtraEnv []string
	// Endpoint, when set, gives the AWS endpoint URL of each service process
	// (API, stream runner, worker: named "<component>/<region>") instead of
	// the emulator's motoURL; "" keeps the emulator. The fault-injection
	// suite (dev/chaos) puts a proxy between each service and the emulator
	// this way. The stand-ins and the edge always talk to the emulator.
	Endpoint func(process, motoURL string) (string, error)
}

func (o *Options) defaults() error {
	if o.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return err
		}
		o.Root = root
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(o.Root, ".local")
	}
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.Root, "bin")
	}
	if len(o.Regions) == 0 {
		o.Regions = DefaultRegions
	}
	if o.Ports.API == nil {
		o.Ports = DefaultPorts(o.Regions)
	}
	for _, r := range o.Regions {
		if o.Ports.API[r] == 0 || o.Ports.Worker[r] == 0 || o.Ports.Runner[r] == 0 {
			return fmt.Errorf("no ports for region %s", r)
		}
	}
	if o.Provisioner == nil {
		o.Provisioner = Terragrunt{}
	}
	if o.ReplicationLag == 0 {
		o.ReplicationLag = 200 * time.Millisecond
	}
	if o.StateTTL <= 0 {
		o.StateTTL = time.Second
	}
	if o.TakeoverDelay <= 0 {
		o.TakeoverDelay = 20 * time.Second
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// FindRoot walks up from the working directory to the directory holding
// go.work.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the repository (no go.work above the working directory)")
		}
		dir = parent
	}
}

// Paths inside Dir.
func (o Options) logDir() string        { return filepath.Join(o.Dir, "logs") }
func (o Options) pidDir() string        { return filepath.Join(o.Dir, "pids") }
func (o Options) checkpointDir() string { return filepath.Join(o.Dir, "checkpoints") }

// OutputsPath is where the stack description is (the infrastructure's
// outputs task writes it; the stack adds the stand-ins' URLs).
func (o Options) OutputsPath() string { return filepath.Join(o.Dir, "infra", "outputs.json") }
