package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ProvisionRequest is what a provisioner needs to know.
type ProvisionRequest struct {
	Root     string
	Dir      string
	Endpoint string // the emulator's URL
	Regions  []string
	// OutputsPath is where the stack description must end up.
	OutputsPath string
	// Log receives the tools' output.
	Log io.Writer
}

// Provisioner creates the stack's resources in the emulator and describes
// them.
type Provisioner interface {
	Provision(ctx context.Context, req ProvisionRequest) (Outputs, error)
	Name() string
}

// Terragrunt provisions through the infrastructure's local environment:
// `task infra:local:apply` then `task infra:local:outputs`, with
// AWS_ENDPOINT_URL naming the emulator. This is the one way the local
// stack's resources come into being.
type Terragrunt struct{}

// Name implements Provisioner.
func (Terragrunt) Name() string { return "terragrunt (task infra:local:apply)" }

// LocalUnits are the Terragrunt units the local stack applies (a
// Terragrunt filter, comma-separated for TG_FILTER).
const LocalUnits = "./*/data-stores,./*/event-pipeline,./_global/cross-region-subscriptions"

// Provision implements Provisioner.
func (Terragrunt) Provision(ctx context.Context, req ProvisionRequest) (Outputs, error) {
	// Terraform's working directories remember the backend's endpoint:
	// after a change of emulator (another port) they must be initialised
	// again, and a fresh emulator has no state to migrate, so the cache is
	// simply dropped.
	cache := filepath.Join(req.Dir, "terragrunt-cache")
	marker := filepath.Join(cache, ".endpoint")
	if b, err := os.ReadFile(marker); err != nil || string(b) != req.Endpoint {
		_ = os.RemoveAll(cache)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return Outputs{}, err
		}
		_ = os.WriteFile(marker, []byte(req.Endpoint), 0o644)
	}
	// The tools module has a go.work of its own: a GOWORK inherited from
	// the project's Taskfile would make `go -C tools tool task` look for
	// the tool in the project's workspace (and not find it).
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOWORK=") })
	env = append(env,
		"AWS_ENDPOINT_URL="+req.Endpoint,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true",
		// Where the infrastructure tasks keep their working files and
		// write the outputs, so that two stacks (a developer's and the
		// end-to-end tests') never share a directory.
		"LOCAL_DIR="+req.Dir,
		"OUTPUTS_FILE="+req.OutputsPath,
		"TG_DOWNLOAD_DIR="+cache,
		// Only the data path: the compute and edge units (network, ECS
		// services, load balancers, CI roles) describe AWS; locally the
		// services run as processes and the edge is the stand-in.
		"TG_FILTER="+LocalUnits,
	)
	for _, t := range []string{"infra:local:apply", "infra:local:outputs"} {
		if err := runTask(ctx, req.Root, env, req.Log, t); err != nil {
			return Outputs{}, err
		}
	}
	return LoadOutputs(req.OutputsPath)
}

func runTask(ctx context.Context, root string, env []string, log io.Writer, task string) error {
	cmd := exec.CommandContext(ctx, "go", "-C", filepath.Join(root, "tools"), "tool", "task", "-d", root, task)
	cmd.Dir = root
	cmd.Env = env
	var tail tailBuffer
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = io.MultiWriter(log, &tail)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("task %s: %w\n%s", task, err, tail.String())
	}
	return nil
}

// tailBuffer keeps the last 4 KiB written, for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
