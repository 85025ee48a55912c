// Package envconfig reads a process's settings from the environment once,
// at start, and reports every missing or malformed variable by name in one
// line, so a misconfigured task stops with a message an operator can act on.
package envconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader accumulates problems while reading variables.
type Reader struct {
	lookup   func(string) (string, bool)
	problems []string
}

// New reads from lookup (os.LookupEnv when nil).
func New(lookup func(string) (string, bool)) *Reader {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Reader{lookup: lookup}
}

// FromGetenv reads through a getenv-style function: empty means unset.
func FromGetenv(getenv func(string) string) *Reader {
	return New(func(k string) (string, bool) { v := getenv(k); return v, v != "" })
}

// FromMap reads from a map (tests).
func FromMap(m map[string]string) *Reader {
	return New(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func (r *Reader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *Reader) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// Fail records a problem the caller found (a rule across variables).
func (r *Reader) Fail(format string, args ...any) { r.fail(format, args...) }

// URL returns an http(s) URL (a queue URL, an endpoint); what describes
// it. Empty is an error only when required.
func (r *Reader) URL(name, what string, required bool) string {
	v, ok := r.get(name)
	if !ok {
		if required {
			r.fail("%s is required (%s)", name, what)
		}
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.fail("%s must be %s, got %q", name, what, v)
		return ""
	}
	return v
}

// Required returns a variable that must be set; what describes it.
func (r *Reader) Required(name, what string) string {
	v, ok := r.get(name)
	if !ok {
		r.fail("%s is required (%s)", name, what)
	}
	return v
}

// String returns a variable or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// Int returns an integer in [min, max], or def when unset.
func (r *Reader) Int(name string, def, min, max int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail("%s must be an integer from %d to %d, got %q", name, min, max, v)
		return def
	}
	return n
}

// Duration returns a Go duration ("5s", "250ms") in [min, max], or def. A
// bare number is read as seconds ("30", "2.5"), as AWS settings usually are.
func (r *Reader) Duration(name string, def, min, max time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseFloat(v, 64)
		if nerr != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			r.fail("%s must be a duration such as 5s or 250ms, or a number of seconds, got %q", name, v)
			return def
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d < min || d > max {
		r.fail("%s must be between %s and %s, got %s", name, min, max, d)
		return def
	}
	return d
}

// Bool returns a boolean (true/false/1/0), or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail("%s must be true or false, got %q", name, v)
		return def
	}
	return b
}

// LogLevel returns debug, info, warn or error, or def.
func (r *Reader) LogLevel(name string, def slog.Level) slog.Level {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail("%s must be debug, info, warn or error, got %q", name, v)
		return def
	}
	return l
}

// Err is nil when every variable was fine, else one line naming them all.
func (r *Reader) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("configuration: " + strings.Join(r.problems, "; "))
}

// Logger returns the JSON logger every process of the project uses.
func Logger(level slog.Level, attrs ...any) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With(attrs...)
}
