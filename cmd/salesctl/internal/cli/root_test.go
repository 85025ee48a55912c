package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUnknownCommandIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Execute(context.Background(), []string{"no-such-command"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "unknown command") || !strings.Contains(errOut.String(), "--help") {
		t.Errorf("stderr %q", errOut.String())
	}
}

func TestMissingStackFileIsAClearError(t *testing.T) {
	g := &Globals{StackFile: t.TempDir() + "/nope.json"}
	if _, err := g.LoadStack(); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Fatalf("got %v", err)
	}
}
