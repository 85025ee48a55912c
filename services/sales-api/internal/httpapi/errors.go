package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
	"github.com/salesplatform/services/sales-api/internal/app"
)

// errorBody is every error's JSON: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// errBodyTooLarge is a body that inflates beyond BodyLimit (Fiber itself
// answers 413 for raw bodies over it).
var errBodyTooLarge = errors.New("request body too large")

// statusOf is the one table from errors to HTTP statuses and the message a
// client may see. Anything not listed is a 500 with a generic message: no
// AWS or Go text ever reaches a client.
func statusOf(err error) (int, string) {
	var in *InputError
	var fe *fiber.Error
	switch {
	case errors.As(err, &in):
		return fiber.StatusBadRequest, in.Msg
	case errors.Is(err, domain.ErrSaleNotFound):
		return fiber.StatusNotFound, "sale not found"
	case errors.Is(err, app.ErrRegionNotActive):
		return fiber.StatusServiceUnavailable, err.Error()
	case errors.Is(err, eventstore.ErrWritesClosed):
		return fiber.StatusServiceUnavailable, "region is not accepting writes: writes moved to another region"
	case errors.Is(err, app.ErrNotCommitted):
		return fiber.StatusServiceUnavailable, "the request did not complete in time and nothing was written; retry"
	case errors.Is(err, app.ErrOutcomeUnknown):
		return fiber.StatusGatewayTimeout, "the request did not complete in time and its outcome is unknown; retry with the same Idempotency-Key"
	case errors.Is(err, app.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return fiber.StatusServiceUnavailable, "the sale could not be read in time; nothing was written; retry"
	case errors.Is(err, app.ErrIdempotencyKeyReused):
		return fiber.StatusUnprocessableEntity, "Idempotency-Key was already used with a different request body"
	case errors.Is(err, errUnauthenticated):
		return fiber.StatusUnauthorized, "authentication required: call the API through its gateway with credentials"
	case errors.Is(err, errUnsupportedEncoding):
		return fiber.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, errBodyTooLarge):
		return fiber.StatusRequestEntityTooLarge, fiberMessage(fiber.ErrRequestEntityTooLarge)
	case errors.As(err, &fe):
		return fe.Code, fiberMessage(fe)
	}
	return fiber.StatusInternalServerError, "internal error"
}

func fiberMessage(fe *fiber.Error) string {
	switch fe.Code {
	case fiber.StatusNotFound:
		return "route not found"
	case fiber.StatusMethodNotAllowed:
		return "method not allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "request body is larger than 64 KiB"
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return "request headers are too large"
	case fiber.StatusRequestTimeout:
		return "request timed out"
	case fiber.StatusBadRequest:
		return "malformed HTTP request"
	}
	return "request failed"
}

// errorHandler renders every error, including those fasthttp raises before
// any middleware ran (body too large, malformed request), so it also sets
// the request id when the middleware did not.
func errorHandler(log *slog.Logger, retryAfter int) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, msg := statusOf(err)
		if c.GetRespHeader(fiber.HeaderXRequestID) == "" {
			c.Set(fiber.HeaderXRequestID, requestID(c))
		}
		switch status {
		case fiber.StatusServiceUnavailable:
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retryAfter))
		case fiber.StatusUnsupportedMediaType:
			c.Set(fiber.HeaderAcceptEncoding, acceptedEncodings)
		}
		switch {
		case status >= 500 && status != fiber.StatusServiceUnavailable:
			log.Error("request failed", "request_id", c.GetRespHeader(fiber.HeaderXRequestID),
				"method", c.Method(), "path", c.Path(), "err", err)
		case status == fiber.StatusServiceUnavailable && !errors.Is(err, app.ErrRegionNotActive) && !errors.Is(err, eventstore.ErrWritesClosed):
			// The store did not answer in time: nothing was written, but
			// an operator wants to see it.
			log.Warn("request not completed", "request_id", c.GetRespHeader(fiber.HeaderXRequestID),
				"method", c.Method(), "path", c.Path(), "err", err)
		}
		return c.Status(status).JSON(errorBody{Error: msg})
	}
}
