//go:build faultinject

package fault

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Enabled reports whether this binary honours fault variables.
const Enabled = true

var (
	once       sync.Once
	killAt     string
	delayAt    string
	delayFor   time.Duration
	killedOnce sync.Once
)

func load() {
	killAt = strings.TrimSpace(os.Getenv(EnvKill))
	if spec := strings.TrimSpace(os.Getenv(EnvDelay)); spec != "" {
		point, dur, ok := strings.Cut(spec, "=")
		d, err := time.ParseDuration(dur)
		if !ok || err != nil {
			panic(fmt.Sprintf("fault: %s=%q: want <point>=<duration>", EnvDelay, spec))
		}
		delayAt, delayFor = point, d
	}
}

// Point kills or stalls the process when the fault variables name it.
func Point(ctx context.Context, name string) error {
	once.Do(load)
	if name == killAt {
		killedOnce.Do(func() {
			fmt.Fprintf(os.Stderr, `{"level":"WARN","msg":"fault injection: SIGKILL","point":%q}`+"\n", name)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way; never continue past the point
		})
	}
	if name == delayAt && delayFor > 0 {
		t := time.NewTimer(delayFor)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
