package domain

import (
	"errors"
	"fmt"
	"math"
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
	// The float passed the range checks; now decide the cents exactly from
	// the decimal text (a float cannot tell 0.1 from 0.1000000000000000055).
	cents, err := exactCents(s)
	if err != nil {
		return 0, err
	}
	if cents <= 0 {
		return 0, ErrAmountNotPositive
	}
	if cents > MaxAmount {
		return 0, ErrAmountTooLarge
	}
	return cents, nil
}

// exactCents reads a decimal literal d[.d][e±d] as cents, refusing anything
// finer than a cent. The caller has bounded its value and length.
func exactCents(s string) (Amount, error) {
	mant, expText := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
	}
	mant = strings.TrimPrefix(mant, "+")
	intPart, fracPart, _ := strings.Cut(mant, ".")
	if intPart == "" && fracPart == "" || !allDigits(intPart) || !allDigits(fracPart) {
		return 0, ErrAmountNotNumber
	}
	exp := 0
	if expText != "" {
		e, err := strconv.Atoi(expText)
		if err != nil {
			return 0, ErrAmountNotNumber
		}
		exp = e
	}
	digits := strings.TrimLeft(intPart+fracPart, "0")
	scale := len(fracPart) - exp // value = digits × 10^-scale
	for scale > 2 && strings.HasSuffix(digits, "0") {
		digits, scale = digits[:len(digits)-1], scale-1
	}
	if digits == "" {
		return 0, nil
	}
	if scale > 2 {
		return 0, ErrAmountPrecision
	}
	if len(digits)+2-scale > 15 { // more than 10^15 cents: far above MaxAmount
		return 0, ErrAmountTooLarge
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, ErrAmountNotNumber
	}
	for ; scale < 2; scale++ {
		n *= 10
	}
	return Amount(n), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
