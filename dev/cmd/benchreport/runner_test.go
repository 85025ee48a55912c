package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readMeta(t *testing.T, dir, bench string, run int) RunMeta {
	t.Helper()
	b, err := os.ReadFile(stem(dir, bench, run) + ".meta.json")
	if err != nil {
		t.Fatal(err)
	}
	var m RunMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunAllRecordsEachRunAndItsEnd(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	benches := []Bench{
		{Name: "ok", Kind: KindGoBench, Dir: ".", Env: []string{"X=1"}, Timeout: time.Minute,
			Args: []string{"sh", "-c", `echo "BenchmarkX-2 1 $X ns/op"; echo "{json}" >&2`}},
		{Name: "fails", Kind: KindGoBench, Dir: ".", Timeout: time.Minute, Args: []string{"sh", "-c", "exit 3"}},
		{Name: "slow", Kind: KindGoBench, Dir: ".", Timeout: 300 * time.Millisecond, Args: []string{"sleep", "30"}},
		{Name: "unprepared", Kind: KindGoBench, Dir: ".", Timeout: time.Minute, Args: []string{"true"}, Prepare: [][]string{{"false"}}},
	}
	start := time.Now()
	if err := runAll(context.Background(), root, dir, benches, 2, Machine{Cores: 2, Started: start.UTC(), Runs: 2}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the timeout did not stop the slow bench: %s", took)
	}
	for run := 1; run <= 2; run++ {
		m := readMeta(t, dir, "ok", run)
		if !m.OK() || m.Command != `X=1 sh -c 'echo "BenchmarkX-2 1 $X ns/op"; echo "`+stem(dir, "ok", run)+`.json" >&2'` {
			t.Errorf("ok run %d: %+v", run, m)
		}
		out, _ := os.ReadFile(stem(dir, "ok", run) + ".out")
		if string(out) != "BenchmarkX-2 1 1 ns/op\n" {
			t.Errorf("ok run %d stdout %q", run, out)
		}
		if m := readMeta(t, dir, "fails", run); m.ExitCode != 3 || m.OK() {
			t.Errorf("fails run %d: %+v", run, m)
		}
		if m := readMeta(t, dir, "slow", run); m.OK() || !strings.Contains(m.Error, "timeout") {
			t.Errorf("slow run %d: %+v", run, m)
		}
		if m := readMeta(t, dir, "unprepared", run); m.OK() || !strings.Contains(m.Error, "prepare") {
			t.Errorf("unprepared run %d: %+v", run, m)
		}
	}
	res, err := Load(dir, benches)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Value("ok", 2, "BenchmarkX ns/op"); !c.OK || c.V != 1 {
		t.Errorf("ok run 2 figure: %+v", c)
	}
	if c := res.Value("fails", 1, "BenchmarkX ns/op"); c.OK || c.Why != "failed" {
		t.Errorf("fails: %+v", c)
	}
	if res.Machine == nil || res.Machine.Finished.IsZero() {
		t.Errorf("machine.json not finished: %+v", res.Machine)
	}

	// Running one bench again into the same directory keeps its start and
	// says so.
	first := res.Machine.Started
	if err := runAll(context.Background(), root, dir, benches[:1], 1, Machine{Cores: 2, Started: time.Now().UTC(), Runs: 1}, io.Discard); err != nil {
		t.Fatal(err)
	}
	res, err = Load(dir, benches)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Machine.Started.Equal(first) || res.Machine.Runs != 2 || len(res.Machine.Reruns) != 1 || !strings.HasPrefix(res.Machine.Reruns[0], "ok at ") {
		t.Errorf("after a rerun: %+v", res.Machine)
	}
}

func TestShellCommandQuotes(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		env  []string
		args []string
		want string
	}{
		{".", nil, []string{"go", "test", "-run", "^$", "./x/..."}, `go test -run '^$' ./x/...`},
		{"cmd/salesctl", []string{"BENCH_EVENTS=2000"}, []string{"go", "test", "-bench", "."}, `cd cmd/salesctl && BENCH_EVENTS=2000 go test -bench .`},
		{"", nil, []string{"echo", "it's", ""}, `echo 'it'\''s' ''`},
	} {
		if got := shellCommand(tc.dir, tc.env, tc.args); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}

func TestSelectBenches(t *testing.T) {
	all := Catalog(DefaultSizes(true))
	got, err := selectBenches(all, "pipeline, api")
	if err != nil || len(got) != 2 || got[0].Name != "pipeline" || got[1].Name != "api" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := selectBenches(all, "nope"); err == nil || !strings.Contains(err.Error(), "unknown bench") {
		t.Fatalf("unknown bench: %v", err)
	}
	if got, _ := selectBenches(all, ""); len(got) != len(all) {
		t.Fatal("empty selection must be all")
	}
	// Every bench's name is unique and its JSON, if any, is per run.
	seen := map[string]bool{}
	for _, b := range all {
		if seen[b.Name] {
			t.Errorf("duplicate bench %s", b.Name)
		}
		seen[b.Name] = true
		if (b.Kind == KindAPIBench || b.Kind == KindPipeline) != strings.Contains(strings.Join(b.Args, " "), "{json}") {
			t.Errorf("%s: JSON kinds and {json} placeholders must go together", b.Name)
		}
		if filepath.IsAbs(b.Dir) {
			t.Errorf("%s: dir must be relative to the root", b.Name)
		}
	}
}
