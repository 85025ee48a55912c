package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Answers tallies what the API answered during a scenario.
type Answers struct {
	mu sync.Mutex
	// IDs are the sales that got a 201, by the region posted to.
	IDs map[string][]string
	// Status counts every HTTP answer (POST and GET) by code.
	Status map[int]int
	// FiveXX counts 5xx answers (503 included).
	FiveXX int
	// ConnErrors counts requests that got no HTTP answer (refused, reset,
	// timed out).
	ConnErrors int
	// GaveUp counts sales that never got a 201 within the retry budget.
	GaveUp int
	// Abandoned are the products of sales whose client gave up at a 503.
	Abandoned []string
	// Wrong lists answers that must never happen: a 4xx to a valid sale,
	// a 201 or 200 with other data than posted, a 404 for a sale that got
	// its 201.
	Wrong []string
}

func newAnswers() *Answers { return &Answers{IDs: map[string][]string{}, Status: map[int]int{}} }

func (a *Answers) status(code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Status[code]++
	if code >= 500 {
		a.FiveXX++
	}
}

func (a *Answers) connErr() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ConnErrors++
}

func (a *Answers) wrong(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.Wrong) < 50 {
		a.Wrong = append(a.Wrong, fmt.Sprintf(format, args...))
	}
}

// All are every 201 id.
func (a *Answers) All() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, ids := range a.IDs {
		out = append(out, ids...)
	}
	return out
}

// Accepted is the number of 201s.
func (a *Answers) Accepted() int { return len(a.All()) }

// Load posts sales like a careful client: each with its own
// Idempotency-Key, retried with the same key and body after a 5xx or a
// lost answer (bounded), and read back from the same region after its 201.
type Load struct {
	HTTP *http.Client
	// RetryBudget bounds how long one sale is retried.
	RetryBudget time.Duration
	// Tag goes into every product name (the scenario), for the logs.
	Tag string
	// Rand draws amounts and jitter.
	Rand *rand.Rand
	mu   sync.Mutex
}

type saleBody struct {
	ID        string          `json:"id"`
	Product   string          `json:"product"`
	Amount    json.Number     `json:"amount"`
	Processed bool            `json:"processed"`
	Status    string          `json:"status"`
	Error     string          `json:"error"`
	Raw       json.RawMessage `json:"-"`
}

func (l *Load) intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Rand.IntN(n)
}

// Run posts perRegion sales to each region's API (apis: region → base
// URL), evenly over d, and returns when every sale got its final answer.
// A share abandon of the clients gives up at its first 503.
func (l *Load) Run(ctx context.Context, apis map[string]string, perRegion int, d time.Duration, abandon float64) *Answers {
	ans := newAnswers()
	var wg sync.WaitGroup
	interval := d / time.Duration(max(perRegion, 1))
	for region, base := range apis {
		wg.Go(func() {
			var sales sync.WaitGroup
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := range perRegion {
				if i > 0 {
					select {
					case <-ctx.Done():
					case <-tick.C:
					}
				}
				if ctx.Err() != nil {
					ans.mu.Lock()
					ans.GaveUp += perRegion - i
					ans.mu.Unlock()
					break
				}
				gives := float64(l.intn(1000))/1000 < abandon
				sales.Go(func() { l.sale(ctx, ans, region, base, i, gives) })
			}
			sales.Wait()
		})
	}
	wg.Wait()
	return ans
}

// sale posts one sale until it gets a definitive answer, then reads it
// back. A client that gives up does so at its first 503, unless an earlier
// attempt's outcome is unknown (a 504, another 5xx, no answer): a 503 says
// only that the request it answers wrote nothing.
func (l *Load) sale(ctx context.Context, ans *Answers, region, base string, i int, givesUp bool) {
	product := fmt.Sprintf("chaos %s %s #%d %s", l.Tag, region, i, uuid.NewString()[:8])
	cents := 100 + l.intn(99_900)
	body := fmt.Sprintf(`{"product":%q,"amount":%d.%02d}`, product, cents/100, cents%100)
	key := uuid.NewString()
	deadline := time.Now().Add(l.RetryBudget)
	backoff := 250 * time.Millisecond
	// unknown: an earlier attempt's outcome is unknown (a 504, or no
	// answer at all); then only a 201 (or a definite refusal) settles it,
	// and a later 503 — "this request wrote nothing" — does not.
	unknown := false
	for attempt := 0; attempt < 500 && time.Now().Before(deadline) && ctx.Err() == nil; attempt++ {
		code, got, err := l.do(ctx, http.MethodPost, base+"/sales", body, key)
		switch {
		case err != nil:
			unknown = true
			ans.connErr()
		case code == http.StatusCreated:
			ans.status(code)
			if _, perr := uuid.Parse(got.ID); perr != nil {
				ans.wrong("POST %s: 201 with id %q", region, got.ID)
				return
			}
			ans.mu.Lock()
			ans.IDs[region] = append(ans.IDs[region], got.ID)
			ans.mu.Unlock()
			// A 201 (first answer or a replay of it) shows the sale as
			// created: the posted data, not processed yet.
			if got.Product != product || !sameCents(got.Amount, cents) || got.Status != "CREATED" || got.Processed {
				ans.wrong("POST %s: 201 with %+v for product %q amount %d cents", region, got, product, cents)
			}
			l.readBack(ctx, ans, region, base, got.ID, product, cents)
			return
		case code == http.StatusServiceUnavailable && givesUp && !unknown:
			ans.status(code)
			ans.mu.Lock()
			ans.Abandoned = append(ans.Abandoned, product)
			ans.mu.Unlock()
			return
		case code >= 500:
			ans.status(code)
			unknown = unknown || code != http.StatusServiceUnavailable
		default:
			ans.status(code)
			ans.wrong("POST %s: %d %q for a valid sale", region, code, got.Error)
			return
		}
		l.sleep(ctx, backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
	ans.mu.Lock()
	ans.GaveUp++
	ans.mu.Unlock()
}

// readBack GETs a sale that got its 201 from the region that stored it (a
// strongly consistent read): 200 with the posted data, or a 5xx while the
// fault lasts; never a 404.
func (l *Load) readBack(ctx context.Context, ans *Answers, region, base, id, product string, cents int) {
	for attempt := 0; attempt < 40 && ctx.Err() == nil; attempt++ {
		code, got, err := l.do(ctx, http.MethodGet, base+"/sales/"+id, "", "")
		switch {
		case err != nil:
			ans.connErr()
		case code == http.StatusOK:
			ans.status(code)
			if got.ID != id || got.Product != product || !sameCents(got.Amount, cents) {
				ans.wrong("GET %s %s: 200 with %+v", region, id, got)
			}
			return
		case code >= 500:
			ans.status(code)
		default:
			ans.status(code)
			ans.wrong("GET %s %s after its 201: %d %q", region, id, code, got.Error)
			return
		}
		l.sleep(ctx, 500*time.Millisecond)
	}
}

func (l *Load) sleep(ctx context.Context, d time.Duration) {
	d += time.Duration(l.intn(int(d/time.Millisecond)+1)) * time.Millisecond / 2
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (l *Load) do(ctx context.Context, method, url, body, key string) (int, saleBody, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, saleBody{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := l.HTTP.Do(req)
	if err != nil {
		return 0, saleBody{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, saleBody{}, err
	}
	var s saleBody
	if len(b) > 0 {
		if jerr := json.Unmarshal(b, &s); jerr != nil && resp.StatusCode < 500 {
			return resp.StatusCode, s, fmt.Errorf("%s %s: %d with a body that is not JSON: %w", method, url, resp.StatusCode, jerr)
		}
	}
	return resp.StatusCode, s, nil
}

func sameCents(n json.Number, cents int) bool {
	f, err := n.Float64()
	return err == nil && int(math.Round(f*100)) == cents
}
