// Package httpapi is the sales API's HTTP layer on Fiber: routes, the
// request decoder, the error table, probes, metrics and the OpenAPI
// document. It calls the application layer (internal/app) and nothing below.
package httpapi

import (
	"context"
	_ "embed"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/services/sales-api/internal/app"
)

// BodyLimit is the largest request body accepted (413 above it).
const BodyLimit = 64 << 10

// DefaultRequestTimeout is a request's default budget (Deps.RequestTimeout).
const DefaultRequestTimeout = 8 * time.Second

//go:embed openapi.yaml
var OpenAPI []byte

// Version is what GET /version reports.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	Region    string `json:"region"`
}

// Deps are what the HTTP layer needs.
type Deps struct {
	Service *app.Service
	// Ready reports whether the process can serve: dependencies reachable
	// and the region state known. nil error = ready.
	Ready    func(ctx context.Context) error
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Version  Version
	// RetryAfter is the Retry-After value, in seconds, of a 503.
	RetryAfter int
	// AccessLog writes one line per request at info level.
	AccessLog bool
	// Timeouts of the server (ReadTimeout also bounds slow bodies).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Auth says who may call the API (default: no authorization).
	Auth Auth
	// RequestTimeout is every request's budget for its AWS calls (default
	// 8 s): below the edge's integration timeout (API Gateway: 10 s), so
	// the client hears the API's answer, never the edge's 504, and no SDK
	// attempt starts after that answer.
	RequestTimeout time.Duration
}

// New builds the Fiber app.
func New(d Deps) *fiber.App {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.RetryAfter <= 0 {
		d.RetryAfter = 5
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	a := fiber.New(fiber.Config{
		AppName:               "sales-api",
		BodyLimit:             BodyLimit,
		ReadTimeout:           orDefault(d.ReadTimeout, 10*time.Second),
		WriteTimeout:          orDefault(d.WriteTimeout, 10*time.Second),
		IdleTimeout:           orDefault(d.IdleTimeout, 60*time.Second),
		ReadBufferSize:        8 << 10,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(d.Logger, d.RetryAfter),
		// Strict routing: /sales/ and /sales are different; ids are
		// matched exactly, never decoded twice.
		StrictRouting: true,
		CaseSensitive: true,
		UnescapePath:  false,
		// Fiber's strings otherwise alias fasthttp's reused buffers; values
		// kept past the handler (metric labels, event correlation ids, the
		// in-memory store) would change under our feet.
		Immutable: true,
	})
	m := newHTTPMetrics(d.Registry)
	budget := orDefault(d.RequestTimeout, DefaultRequestTimeout)
	a.Use(func(c *fiber.Ctx) error {
		start := time.Now()
		c.Set(fiber.HeaderXRequestID, requestID(c))
		ctx, cancel := context.WithTimeout(c.UserContext(), budget)
		defer cancel()
		c.SetUserContext(ctx)
		err := c.Next()
		if err != nil {
			if herr := a.ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		route := "unmatched"
		if r := c.Route(); r != nil && r.Path != "/" {
			route = r.Path
		}
		m.observe(c.Method(), route, status, time.Since(start))
		if d.AccessLog {
			d.Logger.Info("request", "request_id", c.GetRespHeader(fiber.HeaderXRequestID),
				"method", c.Method(), "path", c.Path(), "status", status,
				"latency_ms", float64(time.Since(start).Microseconds())/1000)
		}
		return nil
	})

	h := handlers{svc: d.Service, auth: d.Auth}
	a.Post("/sales", h.create)
	a.Get("/sales/:id", h.get)
	a.Delete("/sales/:id", h.cancel)

	ok := func(status string) fiber.Handler {
		return func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": status}) }
	}
	a.Get("/healthcheck", ok("ok"))
	a.Get("/liveness", ok("alive"))
	a.Get("/readiness", func(c *fiber.Ctx) error {
		if d.Ready != nil {
			if err := d.Ready(c.UserContext()); err != nil {
				c.Set(fiber.HeaderRetryAfter, "5")
				return c.Status(fiber.StatusServiceUnavailable).JSON(errorBody{Error: "not ready: " + err.Error()})
			}
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
	v := d.Version
	if v.GoVersion == "" {
		v.GoVersion = runtime.Version()
	}
	a.Get("/version", func(c *fiber.Ctx) error { return c.JSON(v) })
	a.Get("/metrics", metricsHandler(d.Registry))
	a.Get("/openapi.yaml", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(OpenAPI)
	})
	return a
}

func orDefault(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// requestID keeps a well-formed incoming X-Request-Id (so a trace crosses
// the edge) or makes a new one.
func requestID(c *fiber.Ctx) string {
	if id := c.Get(fiber.HeaderXRequestID); validRequestID(id) {
		return id
	}
	return uuid.NewString()
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-_.:", b) >= 0) {
			return false
		}
	}
	return true
}

// saleResponse is a sale on the wire (the original API's fields, plus status
// and created_at).
type saleResponse struct {
	ID        string        `json:"id"`
	Product   string        `json:"product"`
	Amount    domain.Amount `json:"amount"`
	Processed bool          `json:"processed"`
	Status    domain.Status `json:"status"`
	CreatedAt string        `json:"created_at"`
}

func toResponse(s domain.Sale) saleResponse {
	return saleResponse{
		ID:        s.ID.String(),
		Product:   s.Product,
		Amount:    s.Amount,
		Processed: s.Processed,
		Status:    s.Status,
		CreatedAt: s.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
}

type handlers struct {
	svc  *app.Service
	auth Auth
}

const maxIdempotencyKey = 255

func (h handlers) create(c *fiber.Ctx) error {
	caller, err := h.auth.caller(c)
	if err != nil {
		return err
	}
	// The raw bytes, never Ctx.Body: it inflates up to three stacked
	// codings with no limit (a 1 KiB body allocated 1.7 GiB).
	body, err := InflateBody(c.Request().Body(), contentEncodings(c), BodyLimit)
	if err != nil {
		return err
	}
	ev, err := DecodeCreateSale(body)
	if err != nil {
		return err
	}
	key := c.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey || !printableASCII(key) {
		return inputErr("Idempotency-Key must be at most %d printable ASCII characters", maxIdempotencyKey)
	}
	out, err := h.svc.Create(c.UserContext(), app.CreateSale{
		Sale:           ev,
		IdempotencyKey: key,
		CorrelationID:  c.GetRespHeader(fiber.HeaderXRequestID),
		Caller:         caller,
	})
	if err != nil {
		return err
	}
	if out.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	c.Location("/sales/" + out.Sale.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toResponse(out.Sale))
}

func (h handlers) get(c *fiber.Ctx) error {
	caller, err := h.auth.caller(c)
	if err != nil {
		return err
	}
	id, err := saleID(c)
	if err != nil {
		return err
	}
	sale, err := h.svc.Get(c.UserContext(), id, caller)
	if err != nil {
		return err
	}
	return c.JSON(toResponse(sale))
}

func (h handlers) cancel(c *fiber.Ctx) error {
	caller, err := h.auth.caller(c)
	if err != nil {
		return err
	}
	id, err := saleID(c)
	if err != nil {
		return err
	}
	if err := h.svc.Cancel(c.UserContext(), id, caller, c.GetRespHeader(fiber.HeaderXRequestID)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// contentEncodings is every Content-Encoding line of the request.
func contentEncodings(c *fiber.Ctx) []string {
	var lines []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), fiber.HeaderContentEncoding) {
			lines = append(lines, string(v))
		}
	})
	return lines
}

// saleID accepts only the canonical 36-character UUID form: no braces, no
// urn: prefix, no percent-encoding tricks.
func saleID(c *fiber.Ctx) (uuid.UUID, error) {
	raw := c.Params("id")
	if len(raw) != 36 {
		return uuid.Nil, inputErr("id must be a UUID")
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, inputErr("id must be a UUID")
	}
	return id, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
