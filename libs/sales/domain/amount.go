package domain

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Amount is a sale amount in cents. Money is never held in a float: a float
// cannot hold 0.10 exactly and sums drift.
type Amount int64

// MaxAmount is the largest amount a sale may carry (1,000,000,000.00). Larger
// figures are typing mistakes or attacks, never sales.
const MaxAmount Amount = 1_000_000_000_00

// maxAmountLiteral bounds the length of a number literal before any
// arbitrary-precision parsing, so "1e999999999" cannot cost CPU or memory.
const maxAmountLiteral = 32

var (
	ErrAmountNotNumber   = errors.New("amount must be a number")
	ErrAmountNotPositive = errors.New("amount must be greater than 0")
	ErrAmountTooLarge    = errors.New("amount must be at most 1000000000")
	ErrAmountPrecision   = errors.New("amount must have at most 2 decimal places")
)

// ParseAmount reads a decimal literal (as JSON or DynamoDB write numbers:
// "14", "14.00", "1.4e1") into cents. It rejects anything that is not finite,
// not positive, above MaxAmount or finer than a cent.
func ParseAmount(literal string) (Amount, error) {
	s := strings.TrimSpace(literal)
	if s == "" || len(s) > maxAmountLiteral {
		return 0, ErrAmountNotNumber
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
			return 0, ErrAmountTooLarge
		}
		return 0, ErrAmountNotNumber
	}
	if f <= 0 {
		return 0, ErrAmountNotPositive
	}
	if f > float64(MaxAmount)/100 {
		return 0, ErrAmountTooLarge
	}
	// The float passed the range checks, so the exponent is small and exact
	// rational arithmetic is cheap. It decides the cents without rounding.
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, ErrAmountNotNumber
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() {
		return 0, ErrAmountPrecision
	}
	cents := Amount(r.Num().Int64())
	if cents <= 0 {
		return 0, ErrAmountNotPositive
	}
	if cents > MaxAmount {
		return 0, ErrAmountTooLarge
	}
	return cents, nil
}

// String renders the amount as a decimal with at most two places and no
// trailing zeros ("14", "14.5", "0.01"), the way the original API's float
// rendered it.
func (a Amount) String() string {
	whole, frac := int64(a)/100, int64(a)%100
	switch {
	case frac == 0:
		return strconv.FormatInt(whole, 10)
	case frac%10 == 0:
		return fmt.Sprintf("%d.%d", whole, frac/10)
	default:
		return fmt.Sprintf("%d.%02d", whole, frac)
	}
}

// MarshalJSON writes the amount as a JSON number.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON number (or a number in a string, as stored
// events written by hand sometimes carry) through ParseAmount.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
