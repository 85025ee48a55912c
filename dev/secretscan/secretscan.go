// Package secretscan finds secret-looking strings in the repository's
// files: cloud access keys, private keys, tokens, and passwords written as
// literals. The repository test runs it over every tracked file, so a
// secret never reaches a commit that passes the README test command.
//
// The rules are few and specific (a false positive costs a reviewer's
// time, a vague rule gets ignored); the only allowed credentials are the
// emulator's documented fakes ("testing"/"test").
package secretscan

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Rule is one kind of secret.
type Rule struct {
	Name string
	re   *regexp.Regexp
	// ok tells a match that is not a secret (an emulator's fake, an
	// environment reference); nil for none.
	ok func(match string) bool
}

// Finding is one secret-looking string.
type Finding struct {
	Path string
	Line int
	Rule string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: %s", f.Path, f.Line, f.Rule) }

// placeholder reports values that name a secret instead of holding one.
func placeholder(v string) bool {
	v = strings.Trim(v, `"'`)
	switch strings.ToLower(v) {
	case "", "testing", "test", "changeme", "example", "dummy", "fake", "redacted", "xxx":
		return true
	}
	return strings.HasPrefix(v, "$") || strings.HasPrefix(v, "{{") || strings.HasPrefix(v, "<") ||
		strings.HasPrefix(v, "var.") || strings.HasPrefix(v, "local.") || strings.HasPrefix(v, "os.")
}

// Rules are the project's secret patterns.
var Rules = []Rule{
	{Name: "AWS access key id", re: regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`),
		// AWS's documentation example key.
		ok: func(m string) bool { return strings.HasSuffix(m, "EXAMPLE") }},
	{Name: "AWS secret access key", re: regexp.MustCompile(`(?i)aws_?secret_?(access_?)?key\W{0,4}\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b`),
		ok: func(m string) bool { return strings.Contains(m, "EXAMPLEKEY") }},
	{Name: "private key", re: regexp.MustCompile(`-----BEGIN ((RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY( BLOCK)?-----`)},
	{Name: "GitHub token", re: regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b`)},
	{Name: "Slack token", re: regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}\b`)},
	{Name: "password literal", re: regexp.MustCompile(`(?i)\b\w*(password|passwd|secret_key|api_key|apikey|client_secret)\b\s*[:=]\s*("[^"\n]{6,}"|'[^'\n]{6,}')`),
		ok: func(m string) bool {
			_, v, _ := strings.Cut(m, "=")
			if !strings.Contains(m, "=") {
				_, v, _ = strings.Cut(m, ":")
			}
			return placeholder(strings.TrimSpace(v))
		}},
}

// Scan returns the findings in one file's content. Binary content (a NUL
// in the first 8 KiB) is skipped.
func Scan(path string, content []byte) []Finding {
	if bytes.IndexByte(content[:min(len(content), 8192)], 0) >= 0 {
		return nil
	}
	var out []Finding
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		for _, r := range Rules {
			for _, m := range r.re.FindAllString(text, -1) {
				if r.ok != nil && r.ok(m) {
					continue
				}
				out = append(out, Finding{Path: path, Line: line, Rule: r.Name})
			}
		}
	}
	return out
}
