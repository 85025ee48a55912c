package secretscan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// join builds a secret-looking string at run time, so that the fixtures
// below do not themselves sit in the repository as secrets.
func join(parts ...string) string { return strings.Join(parts, "") }

func TestScanFindsEachKindAndAllowsTheFakes(t *testing.T) {
	cases := []struct {
		name, text, rule string
	}{
		{"access key id", "key := \"" + join("AKIA", "Z7QW3ERT5YUI8OPA") + "\"", "AWS access key id"},
		{"session key id", join("ASIA", "ABCDEFGHIJKLMNOP"), "AWS access key id"},
		{"secret key", "aws_secret_access_key = " + join("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYzzzzzzzzzz"), "AWS secret access key"},
		{"private key", join("-----BEGIN RSA ", "PRIVATE KEY-----"), "private key"},
		{"openssh key", join("-----BEGIN OPENSSH ", "PRIVATE KEY-----"), "private key"},
		{"github token", join("ghp_", strings.Repeat("a1B2", 9)), "GitHub token"},
		{"slack token", join("xoxb-", "123456789012-abcdefghij"), "Slack token"},
		{"password", join("db_pass", `word = "hunter2hunter2"`), "password literal"},
		{"api key yaml", join("api_", `key: 's3cr3tvalue!'`), "password literal"},

		{"emulator fake", `AWS_SECRET_ACCESS_KEY=testing`, ""},
		{"documented example id", join("AKIA", "IOSFODNN7EXAMPLE"), ""},
		{"environment reference", `password = "${DB_PASSWORD}"`, ""},
		{"terraform variable", `password = "var.db_password"`, ""},
		{"a word, not an assignment", "the password is checked by the database", ""},
		{"prefix of a longer word", join("XAKIA", "Z7QW3ERT5YUI8OPA"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Scan("f.go", []byte("first line\n"+tc.text+"\n"))
			if tc.rule == "" {
				if len(got) != 0 {
					t.Fatalf("false positive: %v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Rule != tc.rule || got[0].Line != 2 {
				t.Fatalf("Scan = %v, want one %q on line 2", got, tc.rule)
			}
		})
	}
}

func TestScanSkipsBinaryContent(t *testing.T) {
	b := append([]byte{0, 1, 2}, []byte(join("AKIA", "Z7QW3ERT5YUI8OPA"))...)
	if got := Scan("blob", b); len(got) != 0 {
		t.Fatalf("binary content scanned: %v", got)
	}
}

// TestRepositoryHasNoSecrets scans every file git tracks or would add
// (untracked but not ignored).
func TestRepositoryHasNoSecrets(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // deleted in the work tree
		}
		files++
		for _, f := range Scan(name, b) {
			t.Errorf("secret-looking string: %s", f)
		}
	}
	if files < 100 {
		t.Fatalf("scanned only %d files: is this the repository?", files)
	}
	t.Logf("%d files scanned, %d rules", files, len(Rules))
}
