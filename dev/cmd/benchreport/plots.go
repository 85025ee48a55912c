package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// writePlots draws the figures a picture says more about, for the data
// present, and returns name → file written. Nothing is drawn for a bench
// that did not run.
func writePlots(r *Results, dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // docs directory
		return nil, err
	}
	out := map[string]string{}
	for name, draw := range map[string]func(*Results) (*plot.Plot, error){
		"api-latency":      apiLatencyPlot,
		"pipeline-latency": pipelineLatencyPlot,
		"worker-drain":     workerDrainPlot,
	} {
		p, err := draw(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		path := filepath.Join(dir, name+".png")
		if p == nil {
			continue
		}
		if err := p.Save(18*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = path
	}
	return out, nil
}

// apiLatencyPlot: the share of requests per latency bucket, ours vs the
// minimal handler, per route, from the first run with data.
func apiLatencyPlot(r *Results) (*plot.Plot, error) {
	var rep *APIReport
	run := 0
	for _, n := range r.runs() {
		if x := r.Benches["api"][n]; x != nil && x.API != nil && len(x.API.Results) > 0 {
			rep, run = x.API, n
			break
		}
	}
	if rep == nil {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("API latency distribution (run %d, %d connections)", run, rep.Concurrency)
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "share of requests (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	routes := map[string]int{}
	lo, hi := math.Inf(1), 0.0 // the occupied buckets of every series
	for _, res := range rep.Results {
		if res.Run != rep.Results[0].Run { // one apibench run per file; the first if more
			continue
		}
		h := res.Histogram
		if len(h.FromMS) != len(h.Counts) || res.Requests == 0 {
			continue
		}
		var total uint64
		for _, c := range h.Counts {
			total += c
		}
		var xys plotter.XYs
		for j, c := range h.Counts {
			// The first bucket starts at 0, which a log axis cannot
			// show; its requests are under 20 µs, which none are.
			if h.FromMS[j] <= 0 {
				continue
			}
			xys = append(xys, plotter.XY{X: h.FromMS[j], Y: 100 * float64(c) / float64(max(total, 1))})
			if c > 0 {
				lo = math.Min(lo, h.FromMS[j])
				if j+1 < len(h.FromMS) {
					hi = math.Max(hi, h.FromMS[j+1])
				} else {
					hi = math.Max(hi, 2*h.FromMS[j])
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		if _, ok := routes[res.Route]; !ok {
			routes[res.Route] = len(routes)
		}
		// One colour per route; the minimal handler dashed.
		l.Color = palette[routes[res.Route]%len(palette)]
		l.Width = vg.Points(1.5)
		if res.Mode == "minimal" {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		mode := res.Mode
		if mode == "memory" {
			mode = "ours"
		}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s, %s", res.Route, mode), l)
	}
	if hi > lo {
		p.X.Min, p.X.Max = lo/1.5, hi*1.5
	}
	return p, nil
}

// pipelineLatencyPlot: histogram of sale → both lakes and sale → own
// lake latency, one step line per run.
func pipelineLatencyPlot(r *Results) (*plot.Plot, error) {
	type series struct {
		name string
		ms   []float64
		dash bool
	}
	var all []series
	hi := 0.0
	for _, n := range r.runs() {
		x := r.Benches["pipeline"][n]
		if x == nil || x.Pipeline == nil || x.Pipeline.Latency == nil || len(x.Pipeline.Latency.BothMS) == 0 {
			continue
		}
		l := x.Pipeline.Latency
		all = append(all, series{fmt.Sprintf("run %d: both lakes", n), l.BothMS, false}, series{fmt.Sprintf("run %d: its region's lake", n), l.OriginMS, true})
		for _, v := range l.BothMS {
			hi = math.Max(hi, v)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	n := 0
	for _, s := range all {
		n = max(n, len(s.ms))
	}
	// About two bins per square root of the sample, 10 to 40.
	bins := min(40, max(10, int(2*math.Sqrt(float64(n)))))
	width := hi / float64(bins)
	if width <= 0 {
		width = 1
	}
	p := plot.New()
	p.Title.Text = "Sale → lake latency on the local stack (histogram)"
	p.X.Label.Text = "ms from the 201 to the lake object"
	p.Y.Label.Text = "sales per bin"
	p.Legend.Top = true
	for i, s := range all {
		counts := make([]float64, bins+1)
		for _, v := range s.ms {
			counts[min(int(v/width), bins)]++
		}
		xys := make(plotter.XYs, bins+1)
		for j := range counts {
			xys[j] = plotter.XY{X: float64(j) * width, Y: counts[j]}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.Color = palette[(i/2)%len(palette)]
		l.Width = vg.Points(1.5)
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	return p, nil
}

// workerDrainPlot: drain time per consumer count, one bar group per run.
func workerDrainPlot(r *Results) (*plot.Plot, error) {
	consumers := []string{"1", "2", "4"}
	var groups []plotter.Values
	var names []string
	for _, n := range r.runs() {
		var vs plotter.Values
		ok := false
		for _, c := range consumers {
			cell := r.Value("worker-drain", n, "BenchmarkDrain/consumers="+c+" s/drain")
			vs = append(vs, cell.V) // a missing drain draws as no bar
			ok = ok || cell.OK
		}
		if ok {
			groups = append(groups, vs)
			names = append(names, fmt.Sprintf("run %d", n))
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Worker drain time by consumers (moto)"
	p.Y.Label.Text = "seconds to drain the queue"
	p.X.Label.Text = "consumers"
	w := vg.Points(36)
	for i, vs := range groups {
		bars, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return nil, err
		}
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(groups)-1)/2) * w
		p.Add(bars)
		p.Legend.Add(names[i], bars)
	}
	p.NominalX(consumers...)
	// Room for the outer bars and the legend.
	p.X.Min, p.X.Max = -0.7, float64(len(consumers))-0.3
	p.Legend.Top, p.Legend.Left = true, true
	p.Y.Max *= 1.15
	return p, nil
}
