package domain

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxProductLength is the longest product name, in characters (runes).
const MaxProductLength = 200

var (
	ErrProductBlank    = errors.New("product is required")
	ErrProductTooLong  = errors.New("product must be at most 200 characters")
	ErrProductEncoding = errors.New("product must be valid UTF-8 without control characters")
)

// NormalizeProduct trims the product and checks it: non-blank, at most
// MaxProductLength characters, valid UTF-8, no control characters.
func NormalizeProduct(p string) (string, error) {
	if !utf8.ValidString(p) {
		return "", ErrProductEncoding
	}
	p = strings.TrimSpace(p)
	if p == "" {
		return "", ErrProductBlank
	}
	if utf8.RuneCountInString(p) > MaxProductLength {
		return "", ErrProductTooLong
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", ErrProductEncoding
		}
	}
	return p, nil
}
