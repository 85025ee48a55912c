package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

func decodeJSON(resp *http.Response, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// retrying sends a body-less request the way a client honouring 503 and
// 502 would: again after a short wait, a bounded number of times.
func retrying(ctx context.Context, method, url string) int {
	code := 0
	for attempt := 0; attempt < 40; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, method, url, nil)
		resp, err := httpc.Do(req)
		if err == nil {
			code = resp.StatusCode
			resp.Body.Close()
			if code != http.StatusServiceUnavailable && code != http.StatusBadGateway {
				return code
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return code
}
