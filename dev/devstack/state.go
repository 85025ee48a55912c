package devstack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/salesplatform/libs/sales/atomicfile"
)

// State is what the supervisor records for the other salesdev commands
// (.local/salesdev/state.json).
type State struct {
	SupervisorPID int        `json:"supervisor_pid"`
	Executable    string     `json:"executable"`
	StartedAt     time.Time  `json:"started_at"`
	ReadyAt       time.Time  `json:"ready_at,omitzero"`
	Dir           string     `json:"dir"`
	Regions       []string   `json:"regions"`
	Ports         Ports      `json:"ports"`
	Endpoints     Endpoints  `json:"endpoints"`
	MotoPID       int        `json:"moto_pid"`
	Processes     []ProcInfo `json:"processes"`
	Error         string     `json:"error,omitempty"`
}

// StatePath is the state file of a stack directory.
func StatePath(dir string) string { return filepath.Join(dir, "salesdev", "state.json") }

// ReadState reads the state file.
func ReadState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(StatePath(dir))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// Save writes the state file.
func (st State) Save() error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(StatePath(st.Dir), append(b, '\n'))
}

// Snapshot is the state of a running stack.
func (s *Stack) Snapshot() State {
	st := State{
		Dir: s.opts.Dir, Regions: s.opts.Regions, Ports: s.opts.Ports, Endpoints: s.Endpoints(),
		MotoPID: s.moto.PID(), StartedAt: s.start,
	}
	for _, p := range s.procs {
		st.Processes = append(st.Processes, ProcInfo{Name: p.Name, Region: p.Region, PID: p.PID(), ReadyURL: p.ReadyURL, LogPath: p.LogPath, Running: p.Running()})
	}
	return st
}

// Alive reports whether pid is a live process whose command line contains
// every one of want (so a recycled pid is never mistaken for ours).
func Alive(pid int, want ...string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	// A zombie has an empty command line.
	cmdline := strings.ReplaceAll(string(b), "\x00", " ")
	if strings.TrimSpace(cmdline) == "" {
		return false
	}
	for _, w := range want {
		if !strings.Contains(cmdline, w) {
			return false
		}
	}
	return true
}

// Refresh updates the running flags of a state read from disk by looking
// at the recorded pids.
func (st *State) Refresh() {
	for i := range st.Processes {
		p := &st.Processes[i]
		p.Running = Alive(p.PID, filepath.Base(strings.Split(p.Name, "/")[0]))
	}
}

// Describe is a one-line summary of the stack's URLs.
func (st State) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "edge %s", st.Endpoints.Edge)
	for _, r := range st.Regions {
		fmt.Fprintf(&b, " · %s %s", r, st.Endpoints.API[r])
	}
	fmt.Fprintf(&b, " · moto %s", st.Endpoints.Moto)
	return b.String()
}
