package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"runtime"
	"strings"
	"testing"
)

// bomb returns `inflated` zero bytes compressed once per layer ("gzip" or
// "deflate", which HTTP defines as the zlib format), innermost first, as a
// client would stack Content-Encodings.
func bomb(t *testing.T, inflated int64, layers ...string) []byte {
	t.Helper()
	var src io.Reader = io.LimitReader(zeros{}, inflated)
	for _, l := range layers {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch l {
		case "gzip":
			w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
		case "deflate":
			w, _ = zlib.NewWriterLevel(&buf, zlib.BestCompression)
		}
		if _, err := io.Copy(w, src); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		src = bytes.NewReader(buf.Bytes())
	}
	b, _ := io.ReadAll(src)
	return b
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func compressed(t *testing.T, body string, layers ...string) []byte {
	t.Helper()
	var src []byte = []byte(body)
	for _, l := range layers {
		var buf bytes.Buffer
		var w io.WriteCloser
		if l == "gzip" {
			w = gzip.NewWriter(&buf)
		} else {
			w = zlib.NewWriter(&buf)
		}
		_, _ = w.Write(src)
		_ = w.Close()
		src = buf.Bytes()
	}
	return src
}

// A compressed body is inflated at most up to the body limit: a bomb that
// inflates to 60 MiB gets 413 and the server allocates a small multiple of
// the limit for it, not the inflated size (Fiber's Ctx.Body inflated up to
// three stacked encodings without any limit: about 900 MiB for 531 bytes).
func TestCompressedBodiesAreInflatedWithinTheLimit(t *testing.T) {
	a := newAPI(t)
	// One layer inflates at most about 1,000:1, so a bomb that fits the
	// limit holds about 60 MiB; two layers reach far more.
	const one, two = 60 << 20, 256 << 20
	cases := []struct {
		name     string
		encoding string
		body     []byte
		want     int
		msg      string
	}{
		{"gzip bomb", "gzip", bomb(t, one, "gzip"), 413, "64 KiB"},
		{"deflate bomb", "deflate", bomb(t, one, "deflate"), 413, "64 KiB"},
		{"stacked gzip bomb", "gzip, gzip", bomb(t, two, "gzip", "gzip"), 415, "Content-Encoding"},
		{"stacked mixed", "deflate, gzip", compressed(t, seedBody, "deflate", "gzip"), 415, "Content-Encoding"},
		{"brotli", "br", []byte("\x0b\x02\x80hello\x03"), 415, "Content-Encoding"},
		{"unknown coding", "zstd", []byte(seedBody), 415, "Content-Encoding"},
		{"gzip that is not gzip", "gzip", []byte(seedBody), 400, "Content-Encoding"},
		{"truncated gzip", "gzip", compressed(t, seedBody, "gzip")[:20], 400, "Content-Encoding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.body) > 64<<10 {
				t.Fatalf("the test's compressed body is %d bytes: it must fit the limit to test inflation", len(c.body))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := a.do("POST", "/sales", string(c.body), "Content-Encoding", c.encoding)
			runtime.ReadMemStats(&after)
			// Client and server share this process: the bound covers both,
			// and is far below the inflated size.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("the request allocated %d MiB (%d compressed bytes): inflation is not bounded", alloc>>20, len(c.body))
			}
			if r.status != c.want {
				t.Fatalf("status %d body %s, want %d", r.status, r.body, c.want)
			}
			if msg := r.json(t)["error"].(string); !strings.Contains(msg, c.msg) {
				t.Errorf("error %q does not say %q", msg, c.msg)
			}
			a.conform("POST", "/sales", r)
			if c.want == 415 && r.header.Get("Accept-Encoding") == "" {
				t.Errorf("415 without Accept-Encoding (RFC 9110 §15.5.16)")
			}
		})
	}
	if n := a.store.Len(); n != 0 {
		t.Fatalf("compressed bad input wrote %d events", n)
	}
}

// A well-formed single gzip or deflate layer is accepted: clients that
// compress their bodies keep working.
func TestSingleCompressedBodyIsAccepted(t *testing.T) {
	a := newAPI(t)
	for _, enc := range []string{"gzip", "deflate", "GZIP", "identity", ""} {
		body := []byte(seedBody)
		switch strings.ToLower(enc) {
		case "gzip", "deflate":
			body = compressed(t, seedBody, strings.ToLower(enc))
		}
		r := a.do("POST", "/sales", string(body), "Content-Encoding", enc)
		if r.status != 201 {
			t.Fatalf("Content-Encoding %q: status %d body %s, want 201", enc, r.status, r.body)
		}
		if m := r.json(t); m["product"] != "O Pequeno Principe" {
			t.Errorf("Content-Encoding %q: body %s", enc, r.body)
		}
	}
}
