package replay

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

type snsAttr = snstypes.MessageAttributeValue

func envs(t testing.TB, n int) []Item {
	t.Helper()
	out := make([]Item, n)
	for i := range out {
		e, err := domain.NewEnvelope(uuid.New(), 1, "us-east-1", "c", time.Date(2026, 11, 27, 10, 0, i, 0, time.UTC), domain.SaleCreated{Product: "book", Amount: 100})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = Item{ID: e.EventID.String(), Env: e}
	}
	return out
}

// timedSNS records when each entry was accepted.
type timedSNS struct {
	messaging.FakeSNS
	mu    sync.Mutex
	times []time.Time
}

func (f *timedSNS) PublishBatch(ctx context.Context, in *sns.PublishBatchInput, opts ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	out, err := f.FakeSNS.PublishBatch(ctx, in, opts...)
	f.mu.Lock()
	for range in.PublishBatchRequestEntries {
		f.times = append(f.times, time.Now())
	}
	f.mu.Unlock()
	return out, err
}

func TestRateLimitHoldsWithinTenPercentOverFiveSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s run")
	}
	const rate, n = 40.0, 201 // 200 intervals of 25 ms: 5 s
	fake := &timedSNS{}
	r, err := Open(Options{Command: "test", Rate: rate, Publisher: messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := r.Handle(context.Background(), "lane", envs(t, n)); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(started)
	// The bucket starts full with one chunk; the rest waits for tokens.
	sustained := float64(n-r.chunkSize()) / elapsed.Seconds()
	if elapsed < 4500*time.Millisecond || elapsed > 5500*time.Millisecond || sustained < rate*0.9 || sustained > rate*1.1 {
		t.Fatalf("%d events at --rate %g took %s (sustained %.1f/s), want about 5 s and %g/s, ± 10%%", n, rate, elapsed, sustained, rate)
	}
	// Over any second of the run, at most rate events left, plus one chunk
	// (events leave together once the last one's token came): the limit
	// holds in every window, not only on average.
	fake.mu.Lock()
	times := fake.times
	fake.mu.Unlock()
	if len(times) != n {
		t.Fatalf("%d published", len(times))
	}
	for i := range times {
		j := i
		for j < len(times) && times[j].Sub(times[i]) < time.Second {
			j++
		}
		if got := j - i; got > int(rate)+r.chunkSize() {
			t.Fatalf("%d events within one second from event %d, limit %g", got, i, rate)
		}
	}
	t.Logf("%d events in %s (sustained %.1f/s)", n, elapsed, sustained)
}

func TestResumePassesOverDoneAndCountsInflightAsDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	items := envs(t, 30)
	fake := &messaging.FakeSNS{}
	pub := messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{})
	r, err := Open(Options{Command: "test", Selection: "s", CheckpointPath: path, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Handle(context.Background(), "lane", items[:10]); err != nil {
		t.Fatal(err)
	}
	// A crash while items 10..19 were being published: the file lists
	// them in flight.
	r.mu.Lock()
	r.state.Lanes["lane"].Inflight = []string{items[10].ID, items[11].ID}
	r.mu.Unlock()
	if err := r.persist(); err != nil {
		t.Fatal(err)
	}

	r2, err := Open(Options{Command: "test", Selection: "s", CheckpointPath: path, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Resumed() {
		t.Fatal("not resumed")
	}
	// The page is read again from its start.
	if err := r2.Handle(context.Background(), "lane", items); err != nil {
		t.Fatal(err)
	}
	if err := r2.Advance("lane", json.RawMessage(`"end"`), true); err != nil {
		t.Fatal(err)
	}
	res, err := r2.Finish(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.Published()) != 30 {
		t.Fatalf("%d published in all, want 30 (the first 10 not again)", len(fake.Published()))
	}
	if res.Counts.Published != 30 || res.Counts.Read != 30 || res.Counts.Duplicates != 2 || res.Runs != 2 || !res.OK() {
		t.Fatalf("result %+v", res)
	}
	st, err := loadState(path)
	if err != nil || !st.Lanes["lane"].Finished || len(st.Lanes["lane"].Done) != 0 || len(st.Lanes["lane"].Inflight) != 0 {
		t.Fatalf("final checkpoint %+v, %v", st, err)
	}
	// A checkpoint of another selection is refused.
	if _, err := Open(Options{Command: "test", Selection: "other", CheckpointPath: path}); !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("got %v", err)
	}
}

func TestPublishFailuresRetryThenStopOrCountAsFailed(t *testing.T) {
	cases := []struct {
		name          string
		fake          *messaging.FakeSNS
		wantErr       bool
		published     int64
		failed        int64
		duplicates    int64
		wantPublished int
	}{
		{"transient call failure passes on retry", &messaging.FakeSNS{FailCall: func(call int, _ *sns.PublishBatchInput) error {
			if call == 0 {
				return errors.New("connection reset")
			}
			return nil
		}}, false, 10, 0, 10, 10},
		{"sender fault is a permanent failure", &messaging.FakeSNS{FailEntry: func(body string, _ map[string]snsAttr) *messaging.EntryError {
			return &messaging.EntryError{Code: "InvalidParameter", SenderFault: true}
		}}, false, 0, 10, 0, 0},
		{"failures that keep coming stop the run", &messaging.FakeSNS{FailEntry: func(string, map[string]snsAttr) *messaging.EntryError {
			return &messaging.EntryError{Code: "InternalError"}
		}}, true, 0, 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(Options{Command: "t", MaxAttempts: 3, RetryBackoff: time.Millisecond,
				Publisher: messaging.NewPublisher(c.fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{})})
			if err != nil {
				t.Fatal(err)
			}
			err = r.Handle(context.Background(), "lane", envs(t, 10))
			if (err != nil) != c.wantErr || (err != nil && !errors.Is(err, ErrPublish)) {
				t.Fatalf("err %v", err)
			}
			s := r.Snapshot()
			if s.Counts.Published != c.published || s.Counts.Failed != c.failed || s.Counts.Duplicates != c.duplicates || len(c.fake.Published()) != c.wantPublished {
				t.Fatalf("counts %+v, fake published %d", s.Counts, len(c.fake.Published()))
			}
		})
	}
}

func TestDryRunPublishesNothingAndWritesNoCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	r, err := Open(Options{Command: "t", DryRun: true, CheckpointPath: path})
	if err != nil {
		t.Fatal(err)
	}
	items := envs(t, 5)
	items[0].Skip = SkipOtherOrigin
	items[1].Err = errors.New("undecodable")
	if err := r.Handle(context.Background(), "lane", items); err != nil {
		t.Fatal(err)
	}
	if err := r.Advance("lane", nil, true); err != nil {
		t.Fatal(err)
	}
	res, _ := r.Finish(true, nil)
	if res.Counts.Read != 5 || res.Counts.Published != 3 || res.Counts.Skipped[SkipOtherOrigin] != 1 || res.Counts.Failed != 1 || res.OK() {
		t.Fatalf("%+v", res)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("dry run wrote %s", path)
	}
}

func TestFilterDecides(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	e, _ := domain.NewEnvelope(uuid.New(), 1, "us-east-1", "c", at, domain.SaleCreated{Product: "b", Amount: 1})
	cases := []struct {
		f    Filter
		want string
	}{
		{Filter{}, ""},
		{Filter{Since: at}, ""},
		{Filter{Since: at.Add(time.Nanosecond)}, SkipOutOfRange},
		{Filter{Until: at}, SkipOutOfRange},
		{Filter{Until: at.Add(time.Nanosecond)}, ""},
		{Filter{EventTypes: []domain.EventType{domain.EventSaleCancelled}}, SkipEventType},
		{Filter{EventTypes: []domain.EventType{domain.EventSaleCancelled, domain.EventSaleCreated}}, ""},
		{Filter{Origin: "sa-east-1"}, SkipOtherOrigin},
		{Filter{Origin: "us-east-1"}, ""},
	}
	for _, c := range cases {
		if got := c.f.Decide(e); got != c.want {
			t.Errorf("%s: %q, want %q", c.f, got, c.want)
		}
	}
}

func TestSequenceAndStartParsing(t *testing.T) {
	cmp := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1}, {"10", "9", 1}, {"000123", "123", 0}, {"4421584500000000017450439091", "4421584500000000017450439092", -1},
	}
	for _, c := range cmp {
		if got := compareSequence(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d", c.a, c.b, got)
		}
	}
	for in, want := range map[string]string{
		"trim-horizon": "trim-horizon", "latest": "latest", "000123": "sequence:000123",
		"2026-11-27T10:00:00Z": "time:2026-11-27T10:00:00Z",
	} {
		s, err := ParseStreamStart(in)
		if err != nil || s.String() != want {
			t.Errorf("%s: %v %v", in, s, err)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5", "12ab"} {
		if _, err := ParseStreamStart(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProgressLineShowsCountsAndETA(t *testing.T) {
	s := Snapshot{Counts: Counts{Read: 50, Published: 40, Skipped: map[string]int64{"x": 10}}, RunRead: 50, Progress: 50, Total: 200, Elapsed: 10 * time.Second}
	got := Line("replay store us-east-1", "items", s)
	want := "replay store us-east-1: read 50, progress 50/200 (25%), published 40, skipped 10, failed 0, duplicates 0, 5.0 items/s, eta 30s, elapsed 10s"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestProgressModes(t *testing.T) {
	snap := func() Snapshot {
		return Snapshot{Counts: Counts{Read: 7, Published: 6, Skipped: map[string]int64{"x": 1}}, RunRead: 7, Progress: 7, Total: 70, Elapsed: time.Second}
	}
	cases := []struct {
		mode ProgressMode
		want []string
	}{
		{ProgressBar, []string{"replay test: read 7, published 6, skipped 1, failed 0, dup 0", "/70"}},
		{ProgressLines, []string{"replay test: read 7, progress 7/70 (10%), published 6"}},
		{ProgressNone, nil},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			var b syncBuf
			p := StartProgress(&b, c.mode, time.Hour, "replay test", "items", snap)
			time.Sleep(300 * time.Millisecond)
			p.Stop()
			out := b.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%q", w, out)
				}
			}
			if c.want == nil && out != "" {
				t.Fatalf("none printed %q", out)
			}
		})
	}
	if m, err := ParseProgressMode("BAR"); err != nil || m != ProgressBar {
		t.Fatal(m, err)
	}
	if _, err := ParseProgressMode("fancy"); err == nil {
		t.Fatal("accepted")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkRunnerOverhead is the runner's own cost per event with an
// in-memory SNS: chunking, the publisher, and (with a checkpoint) the
// atomic file writes, without the emulator in the way.
func BenchmarkRunnerOverhead(b *testing.B) {
	items := envs(b, 10_000)
	for _, ckpt := range []bool{false, true} {
		b.Run(map[bool]string{false: "no-checkpoint", true: "checkpoint"}[ckpt], func(b *testing.B) {
			var took time.Duration
			for range b.N {
				path := ""
				if ckpt {
					path = filepath.Join(b.TempDir(), "c")
				}
				r, err := Open(Options{Command: "bench", CheckpointPath: path,
					Publisher: messaging.NewPublisher(&messaging.FakeSNS{Discard: true}, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{})})
				if err != nil {
					b.Fatal(err)
				}
				started := time.Now()
				for page := 0; page < len(items); page += 500 {
					if err := r.Handle(context.Background(), "lane", items[page:page+500]); err != nil {
						b.Fatal(err)
					}
					if err := r.Advance("lane", json.RawMessage(`"x"`), false); err != nil {
						b.Fatal(err)
					}
				}
				took += time.Since(started)
			}
			b.ReportMetric(float64(len(items)*b.N)/took.Seconds(), "events/s")
		})
	}
}
