package httpapi

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/salesplatform/services/sales-api/internal/app"
)

// Authorization modes.
const (
	// AuthNone: no authorization, as the original API had; every caller may
	// do everything (the local stack). Said so at start.
	AuthNone = "none"
	// AuthGateway: the edge (API Gateway with IAM or a JWT authorizer)
	// authenticated the caller and put its identity in PrincipalHeader,
	// overwriting whatever a client sent there; the API refuses a request
	// without it. The API is reachable only through the gateway (private
	// load balancers, security groups), so the header can be trusted.
	AuthGateway = "gateway"
)

// DefaultPrincipalHeader is the header API Gateway maps the caller's
// identity into (context.identity.userArn, or the token's sub).
const DefaultPrincipalHeader = "X-Sales-Principal"

// Auth configures who may call the API.
type Auth struct {
	Mode            string
	PrincipalHeader string
	// Operators are principals that may read and cancel every sale: exact
	// values, or prefixes ending in "*" (arn:aws:iam::123456789012:role/ops*).
	Operators []string
}

// errUnauthenticated is a request without the gateway's identity.
var errUnauthenticated = errors.New("authentication required")

// caller is the request's caller, or errUnauthenticated.
func (a Auth) caller(c *fiber.Ctx) (app.Caller, error) {
	if a.Mode != AuthGateway {
		return app.Anyone, nil
	}
	header := a.PrincipalHeader
	if header == "" {
		header = DefaultPrincipalHeader
	}
	p := strings.TrimSpace(c.Get(header))
	if p == "" || len(p) > 512 || !printableASCII(p) {
		return app.Caller{}, errUnauthenticated
	}
	return app.Caller{Principal: p, Operator: a.operator(p)}, nil
}

func (a Auth) operator(p string) bool {
	for _, o := range a.Operators {
		if o == p || (strings.HasSuffix(o, "*") && strings.HasPrefix(p, strings.TrimSuffix(o, "*"))) {
			return true
		}
	}
	return false
}
