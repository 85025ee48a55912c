package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/salesplatform/libs/sales/domain"
)

func TestDecodeCreateSaleAcceptsTheOriginalClientsBodies(t *testing.T) {
	cases := []struct {
		body    string
		product string
		amount  domain.Amount
	}{
		{`{"product":"O Pequeno Principe", "amount": 14.00}`, "O Pequeno Principe", 1400},
		{`{"product":"  padded  ","amount":0.01}`, "padded", 1},
		{`{"amount":1e3,"product":"exp"}`, "exp", 100000},
		{`{"product":"extra field ignored","amount":2,"processed":true}`, "extra field ignored", 200},
		{`{"product":"日本語","amount":1000000000}`, "日本語", domain.MaxAmount},
		{"\n\t{\"product\":\"ws\",\"amount\":1.10}\n", "ws", 110},
	}
	for _, c := range cases {
		ev, err := DecodeCreateSale([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if ev.Product != c.product || ev.Amount != c.amount {
			t.Errorf("%s: got %+v", c.body, ev)
		}
	}
}

// FuzzDecodeCreateSale: any body either decodes into a sale the domain
// accepts or is an *InputError; it never panics and never lets an invalid
// sale through.
func FuzzDecodeCreateSale(f *testing.F) {
	for _, s := range []string{
		`{"product":"O Pequeno Principe", "amount": 14.00}`,
		`{"product":"x","amount":1e309}`,
		`{"product":"x","amount":-0}`,
		`{"product":"x","amount":0.001}`,
		`{"product":"\u0000","amount":1}`,
		`{"product":"\ud800","amount":1}`,
		`{"product":"x","amount":1.0e-2}`,
		`{"product":"x","amount":99999999999999999999999999999}`,
		`{"product":["x"],"amount":{}}`,
		`{"product":"x","amount":1}garbage`,
		`{`, `null`, `""`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeCreateSale(body)
		if err != nil {
			var in *InputError
			if !errors.As(err, &in) || in.Msg == "" {
				t.Fatalf("error %v is not a client-facing InputError", err)
			}
			return
		}
		if _, perr := domain.NormalizeProduct(ev.Product); perr != nil || !utf8.ValidString(ev.Product) {
			t.Fatalf("accepted invalid product %q", ev.Product)
		}
		if ev.Amount <= 0 || ev.Amount > domain.MaxAmount {
			t.Fatalf("accepted amount %d", ev.Amount)
		}
	})
}

// FuzzInflateBody: whatever the bytes and the Content-Encoding lines, the
// result is a body of at most the limit, a 413, a 415 or a client-facing
// InputError; never a panic and never more than the limit.
func FuzzInflateBody(f *testing.F) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}
	seed := []byte(`{"product":"O Pequeno Principe", "amount": 14.00}`)
	f.Add(seed, "")
	f.Add(gz(seed), "gzip")
	f.Add(gz(gz(seed)), "gzip, gzip")
	f.Add(gz(make([]byte, 5000)), "x-gzip")
	f.Add(seed, "deflate")
	f.Add(seed, "identity, br")
	f.Fuzz(func(t *testing.T, raw []byte, encoding string) {
		const limit = 4096
		out, err := InflateBody(raw, []string{encoding}, limit)
		switch {
		case err == nil:
			if len(out) > limit {
				t.Fatalf("inflated %d bytes past the limit %d", len(out), limit)
			}
		case errors.Is(err, errBodyTooLarge), errors.Is(err, errUnsupportedEncoding):
		default:
			var in *InputError
			if !errors.As(err, &in) || in.Msg == "" {
				t.Fatalf("error %v is not a client-facing InputError", err)
			}
		}
	})
}
