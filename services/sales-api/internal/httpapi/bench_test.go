package httpapi_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/services/sales-api/internal/app"
	"github.com/salesplatform/services/sales-api/internal/httpapi"
)

// benchHandler is the API's fasthttp handler over the in-memory store,
// with the access log on (to io.Discard) as in production.
func benchHandler(b *testing.B) (fasthttp.RequestHandler, *memory.Store) {
	b.Helper()
	mem := memory.New()
	a := httpapi.New(httpapi.Deps{
		Service:   &app.Service{Store: mem, Region: "us-east-1", State: &state{s: regionstate.Active}},
		Logger:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Registry:  prometheus.NewRegistry(),
		AccessLog: true,
	})
	return a.Handler(), mem
}

func serveOnce(h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx, method, uri string, body []byte) int {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBody(body)
	h(ctx)
	return ctx.Response.StatusCode()
}

func BenchmarkPostSale(b *testing.B) {
	h, _ := benchHandler(b)
	body := []byte(seedBody)
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		if s := serveOnce(h, &ctx, "POST", "/sales", body); s != 201 {
			b.Fatalf("status %d", s)
		}
	}
}

func BenchmarkGetSale(b *testing.B) {
	h, mem := benchHandler(b)
	var ctx fasthttp.RequestCtx
	if s := serveOnce(h, &ctx, "POST", "/sales", []byte(seedBody)); s != 201 {
		b.Fatalf("status %d", s)
	}
	loc := string(ctx.Response.Header.Peek("Location"))
	_ = mem
	b.ReportAllocs()
	for b.Loop() {
		if s := serveOnce(h, &ctx, "GET", loc, nil); s != 200 {
			b.Fatalf("status %d", s)
		}
	}
}

func BenchmarkDecodeCreateSale(b *testing.B) {
	body := []byte(seedBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := httpapi.DecodeCreateSale(body); err != nil {
			b.Fatal(err)
		}
	}
}
