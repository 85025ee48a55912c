package replay

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode chooses how progress is shown.
type ProgressMode string

const (
	// ProgressAuto is a bar on a terminal and plain lines otherwise.
	ProgressAuto  ProgressMode = "auto"
	ProgressBar   ProgressMode = "bar"
	ProgressLines ProgressMode = "lines"
	ProgressNone  ProgressMode = "none"
)

// ParseProgressMode reads a --progress value.
func ParseProgressMode(s string) (ProgressMode, error) {
	switch m := ProgressMode(strings.ToLower(strings.TrimSpace(s))); m {
	case ProgressAuto, ProgressBar, ProgressLines, ProgressNone:
		return m, nil
	case "":
		return ProgressAuto, nil
	}
	return "", fmt.Errorf("--progress %q: want auto, bar, lines or none", s)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress shows a run's progress until stopped: a bar with counts, rate
// and ETA on a terminal, or a plain line every interval otherwise (logs,
// CI, a pipe).
type Progress struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartProgress starts showing snap's progress on w. label names the run
// ("replay store us-east-1"); unit names what is counted ("events").
func StartProgress(w io.Writer, mode ProgressMode, interval time.Duration, label, unit string, snap func() Snapshot) *Progress {
	p := &Progress{stop: make(chan struct{}), done: make(chan struct{})}
	if mode == ProgressAuto {
		mode = ProgressLines
		if IsTerminal(w) {
			mode = ProgressBar
		}
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	switch mode {
	case ProgressNone:
		close(p.done)
	case ProgressBar:
		go p.bar(w, label, unit, snap)
	default:
		go p.lines(w, interval, label, unit, snap)
	}
	return p
}

// Stop ends the display (the bar is finished, a last line printed).
func (p *Progress) Stop() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

func (p *Progress) bar(w io.Writer, label, unit string, snap func() Snapshot) {
	defer close(p.done)
	max := int64(-1)
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	update := func() {
		s := snap()
		if s.Total > 0 && s.Total != max {
			max = s.Total
			bar.ChangeMax64(max)
		}
		bar.Describe(fmt.Sprintf("%s: read %d, published %d, skipped %d, failed %d, dup %d", label,
			s.Counts.Read, s.Counts.Published, s.Counts.SkippedTotal(), s.Counts.Failed, s.Counts.Duplicates))
		if max > 0 {
			_ = bar.Set64(min(s.Progress, max))
		} else {
			_ = bar.Set64(s.Counts.Read)
		}
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			update()
			_ = bar.Finish()
			return
		case <-t.C:
			update()
		}
	}
}

func (p *Progress) lines(w io.Writer, interval time.Duration, label, unit string, snap func() Snapshot) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprintln(w, Line(label, unit, snap()))
			return
		case <-t.C:
			fmt.Fprintln(w, Line(label, unit, snap()))
		}
	}
}

// Line renders one plain progress line.
func Line(label, unit string, s Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: read %d", label, s.Counts.Read)
	if s.Total > 0 {
		fmt.Fprintf(&b, ", progress %d/%d (%.0f%%)", s.Progress, s.Total, 100*float64(min(s.Progress, s.Total))/float64(s.Total))
	}
	fmt.Fprintf(&b, ", published %d, skipped %d, failed %d, duplicates %d, %.1f %s/s", s.Counts.Published,
		s.Counts.SkippedTotal(), s.Counts.Failed, s.Counts.Duplicates, s.ReadRate(), unit)
	if eta, ok := s.ETA(); ok {
		fmt.Fprintf(&b, ", eta %s", eta.Round(time.Second))
	}
	fmt.Fprintf(&b, ", elapsed %s", s.Elapsed.Round(time.Second))
	return b.String()
}
