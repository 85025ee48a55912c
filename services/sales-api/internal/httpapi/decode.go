package httpapi

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/salesplatform/libs/sales/domain"
)

// InputError is a client mistake: the message is safe to show.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// errUnsupportedEncoding is a Content-Encoding the API does not inflate
// (415 with Accept-Encoding).
var errUnsupportedEncoding = errors.New("Content-Encoding must be identity, gzip or deflate, one layer at most")

// acceptedEncodings is the Accept-Encoding of a 415 (RFC 9110 §15.5.16).
const acceptedEncodings = "gzip, deflate"

// InflateBody returns a request body decoded from its Content-Encoding
// values (as sent, one per header line): none or identity as is, one gzip
// or deflate layer inflated to at most limit bytes (errBodyTooLarge
// above), anything else errUnsupportedEncoding. The limit applies to the
// inflated bytes, so a small compressed body can never make the API
// allocate more than the limit. Stacked codings are refused rather than
// inflated in turn: no client needs them, and each layer multiplies a
// bomb's ratio by about 1,000.
func InflateBody(raw []byte, encodings []string, limit int) ([]byte, error) {
	var coding string
	for _, line := range encodings {
		for _, c := range strings.Split(line, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c == "" || c == "identity" {
				continue
			}
			if coding != "" {
				return nil, errUnsupportedEncoding
			}
			coding = c
		}
	}
	var r io.ReadCloser
	var err error
	switch coding {
	case "":
		return raw, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		return nil, errUnsupportedEncoding
	}
	if err != nil {
		return nil, inputErr("request body is not valid %s (Content-Encoding)", coding)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(out) > limit {
		return nil, errBodyTooLarge
	}
	if err != nil {
		return nil, inputErr("request body is not valid %s (Content-Encoding)", coding)
	}
	return out, nil
}

// createSaleRequest is the POST /sales body. Fields are raw so that a wrong
// JSON type is told apart from a missing field; validator checks presence,
// the domain constructors check meaning.
type createSaleRequest struct {
	Product json.RawMessage `json:"product" validate:"required"`
	Amount  json.RawMessage `json:"amount" validate:"required"`
}

var validate = validator.New(validator.WithRequiredStructEnabled())

// DecodeCreateSale reads a POST /sales body whatever its Content-Type says
// (the seed's own curl example sends form encoding with a JSON body) and
// returns a valid SaleCreated or an *InputError that names the problem.
func DecodeCreateSale(body []byte) (domain.SaleCreated, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return domain.SaleCreated{}, inputErr("request body is required: a JSON object with product and amount")
	}
	if body[0] != '{' {
		return domain.SaleCreated{}, inputErr("request body must be a JSON object")
	}
	var req createSaleRequest
	// Unmarshal also rejects anything after the object.
	if err := json.Unmarshal(body, &req); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset > 1 && json.Valid(body[:syn.Offset-1]) {
			return domain.SaleCreated{}, inputErr("request body must hold one JSON object and nothing after it")
		}
		return domain.SaleCreated{}, inputErr("request body is not valid JSON: %s", jsonProblem(err))
	}
	if isNull(req.Product) {
		req.Product = nil
	}
	if isNull(req.Amount) {
		req.Amount = nil
	}
	if err := validate.Struct(req); err != nil {
		var verrs validator.ValidationErrors
		if errors.As(err, &verrs) && len(verrs) > 0 {
			return domain.SaleCreated{}, inputErr("%s is required", strings.ToLower(verrs[0].Field()))
		}
		return domain.SaleCreated{}, inputErr("invalid request")
	}
	if req.Product[0] != '"' {
		return domain.SaleCreated{}, inputErr("product must be a string")
	}
	var product string
	if err := json.Unmarshal(req.Product, &product); err != nil {
		return domain.SaleCreated{}, inputErr("product must be a string")
	}
	if c := req.Amount[0]; c != '-' && (c < '0' || c > '9') {
		return domain.SaleCreated{}, inputErr("amount must be a number")
	}
	amount, err := domain.ParseAmount(string(req.Amount))
	if err != nil {
		return domain.SaleCreated{}, &InputError{Msg: err.Error()}
	}
	ev, err := domain.NewSaleCreated(product, amount)
	if err != nil {
		return domain.SaleCreated{}, &InputError{Msg: err.Error()}
	}
	return ev, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonProblem describes a JSON error without echoing the body back.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s has the wrong type", typ.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	return "malformed"
}
