package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Run is one run of one bench as found in a results directory.
type Run struct {
	Meta     RunMeta
	Values   map[string]float64
	Texts    map[string]string
	API      *APIReport
	Pipeline *PipelineReport
	// ParseErr: the run's output could not be read (its figures are
	// then missing, never guessed).
	ParseErr string
}

// Results is a whole results directory.
type Results struct {
	Dir     string // as shown in the report
	Abs     string // absolute, to shorten commands that name it
	Machine *Machine
	Runs    int                     // most runs of any bench
	Benches map[string]map[int]*Run // bench → run number → run
	Catalog []Bench
}

// Load reads a results directory: machine.json and every
// <bench>.run<N>.meta.json with its output, parsed by the bench's kind.
func Load(dir string, catalog []Bench) (*Results, error) {
	res := &Results{Dir: dir, Benches: map[string]map[int]*Run{}, Catalog: catalog}
	res.Abs, _ = filepath.Abs(dir)
	if b, err := os.ReadFile(filepath.Join(dir, "machine.json")); err == nil {
		var m Machine
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("machine.json: %w", err)
		}
		res.Machine = &m
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	kinds := map[string]Kind{}
	for _, b := range catalog {
		kinds[b.Name] = b.Kind
	}
	metas, err := filepath.Glob(filepath.Join(dir, "*.run*.meta.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(metas)
	for _, path := range metas {
		base := strings.TrimSuffix(filepath.Base(path), ".meta.json")
		i := strings.LastIndex(base, ".run")
		name := base[:i]
		n, err := strconv.Atoi(base[i+4:])
		if err != nil {
			continue
		}
		kind, known := kinds[name]
		if !known {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		r := &Run{}
		if err := json.Unmarshal(b, &r.Meta); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := r.parse(kind, filepath.Join(dir, base)); err != nil {
			r.ParseErr = err.Error()
		}
		if res.Benches[name] == nil {
			res.Benches[name] = map[int]*Run{}
		}
		res.Benches[name][n] = r
		res.Runs = max(res.Runs, n)
	}
	return res, nil
}

func (r *Run) parse(kind Kind, stem string) error {
	r.Values, r.Texts = map[string]float64{}, map[string]string{}
	var file string
	switch kind {
	case KindAPIBench, KindPipeline:
		file = stem + ".json"
	default:
		file = stem + ".out"
	}
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !r.Meta.OK() {
			return nil // a failed run that wrote nothing: the meta says why
		}
		return err
	}
	defer f.Close() //nolint:errcheck // read-only
	switch kind {
	case KindGoBench:
		r.Values, err = parseGoBench(f)
	case KindAPIBench:
		r.Values, r.API, err = parseAPI(f)
	case KindPipeline:
		r.Values, r.Pipeline, err = parsePipeline(f)
		if err == nil && r.Pipeline.Error != "" {
			r.Texts["error"] = r.Pipeline.Error
		}
	case KindTestLog:
		r.Values, r.Texts, err = parseTestLog(f)
	case KindLambda:
		r.Values, r.Texts, err = parseLambda(f)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	if r.Values == nil {
		r.Values = map[string]float64{}
	}
	if r.Texts == nil {
		r.Texts = map[string]string{}
	}
	return err
}

// Cell is one figure of one run, or why there is none.
type Cell struct {
	V   float64
	OK  bool
	Why string // when !OK: "not run", "failed", "not reported"
}

// Value is a bench's figure in one run.
func (r *Results) Value(bench string, run int, key string) Cell {
	runs := r.Benches[bench]
	if runs == nil || runs[run] == nil {
		return Cell{Why: "not run"}
	}
	x := runs[run]
	if v, ok := x.Values[key]; ok {
		return Cell{V: v, OK: true}
	}
	if !x.Meta.OK() || x.ParseErr != "" {
		return Cell{Why: "failed"}
	}
	return Cell{Why: "not reported"}
}

// Text is a bench's text figure in one run ("" if none).
func (r *Results) Text(bench string, run int, key string) string {
	if x := r.Benches[bench][run]; x != nil {
		return x.Texts[key]
	}
	return ""
}

// bench returns the catalog entry of a name.
func (r *Results) bench(name string) (Bench, bool) {
	for _, b := range r.Catalog {
		if b.Name == name {
			return b, true
		}
	}
	return Bench{}, false
}
