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
	ErrProductFormat   = errors.New("product must not contain invisible or text-direction formatting characters")
)

// NormalizeProduct trims the product and checks it: non-blank, at most
// MaxProductLength characters, valid UTF-8, no control characters, and no
// format characters (Unicode category Cf) that can hide or reorder text
// (bidi overrides such as U+202E, zero-width spaces such as U+200B) — a
// product name shown to an operator or a customer must read as it is
// stored. Refused, not stripped: a silently changed name would differ from
// what the client sent (and its Idempotency-Key replay). The zero-width
// joiner and non-joiner (U+200D, U+200C) are kept: real scripts (Persian,
// Indic) and emoji sequences need them.
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
		switch {
		case unicode.IsControl(r) || r == utf8.RuneError:
			return "", ErrProductEncoding
		case unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			return "", ErrProductFormat
		}
	}
	return p, nil
}
