package iamcheck

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoModules(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "infra", "modules")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("infra/modules not found from %s: %v", file, err)
	}
	return dir
}

// TestModulesGrantNoUndocumentedWildcards is the project's IAM gate: every
// policy document of every module, and every attached AWS managed policy.
func TestModulesGrantNoUndocumentedWildcards(t *testing.T) {
	policies, attachments, err := ParseModules(repoModules(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(policies) < 20 {
		t.Fatalf("only %d policy documents found: the parser is missing some", len(policies))
	}
	used := map[string]bool{}
	statements := 0
	for _, p := range policies {
		statements += len(p.Statements)
		findings, u := Check(p)
		for _, f := range findings {
			t.Error(f)
		}
		for _, sid := range u {
			used[sid] = true
		}
	}
	for _, a := range attachments {
		f, key, bad := CheckManaged(a.Source, a.PolicyARN)
		if bad {
			t.Error(f)
			continue
		}
		used[key] = true
	}
	if unused := Unused(used); len(unused) > 0 {
		t.Errorf("exceptions no module uses any more (remove them): %v", unused)
	}
	t.Logf("%d policy documents, %d statements, %d managed policy attachments checked", len(policies), statements, len(attachments))
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		stmt     Statement
		findings int
		used     bool
	}{
		{name: "specific actions on a computed resource", stmt: Statement{Effect: "Allow", Actions: []string{"sqs:ReceiveMessage"}, Resources: []string{Computed}}},
		{name: "star action", stmt: Statement{Effect: "Allow", Actions: []string{"*"}, Resources: []string{Computed}}, findings: 1},
		{name: "service wildcard", stmt: Statement{Effect: "Allow", Actions: []string{"s3:*"}, Resources: []string{Computed}}, findings: 1},
		{name: "prefix wildcard is specific enough", stmt: Statement{Effect: "Allow", Actions: []string{"kms:GenerateDataKey*"}, Resources: []string{Computed}}},
		{name: "star resource", stmt: Statement{Effect: "Allow", Actions: []string{"ssm:GetParameter"}, Resources: []string{"*"}}, findings: 1},
		{name: "both", stmt: Statement{Effect: "Allow", Actions: []string{"*"}, Resources: []string{"*"}}, findings: 2},
		{name: "deny is fine", stmt: Statement{Effect: "Deny", Actions: []string{"s3:*"}, Resources: []string{"*"}}},
		{name: "NotAction", stmt: Statement{Effect: "Allow", NotActions: []string{"iam:*"}, Resources: []string{Computed}}, findings: 1},
		{name: "NotResource", stmt: Statement{Effect: "Allow", Actions: []string{"s3:GetObject"}, NotResources: []string{Computed}}, findings: 1},
		{name: "documented exception", stmt: Statement{Sid: "EcrLogin", Effect: "Allow", Actions: []string{"ecr:GetAuthorizationToken"}, Resources: []string{"*"}}, used: true},
		{name: "exception does not widen actions", stmt: Statement{Sid: "EcrLogin", Effect: "Allow", Actions: []string{"ecr:*"}, Resources: []string{"*"}}, findings: 1, used: true},
		{name: "key policy exception", stmt: Statement{Sid: "AccountAdministersKey", Effect: "Allow", Actions: []string{"kms:*"}, Resources: []string{"*"}}, used: true},
		{name: "key exception is not for other services", stmt: Statement{Sid: "AccountAdministersKey", Effect: "Allow", Actions: []string{"s3:*"}, Resources: []string{"*"}}, findings: 1, used: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, used := Check(Policy{Source: "test", Statements: []Statement{tt.stmt}})
			if len(f) != tt.findings {
				t.Errorf("findings = %v, want %d", f, tt.findings)
			}
			if (len(used) > 0) != tt.used {
				t.Errorf("used exceptions = %v, want used %v", used, tt.used)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"A","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:1:q"},
	  {"Effect":"Allow","Action":["s3:*"],"Resource":["*"]},
	  {"Effect":"Deny","NotAction":"iam:*","NotResource":"*"}]}`
	p, err := ParseJSON("doc", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Statements) != 3 || p.Statements[0].Sid != "A" || p.Statements[1].Actions[0] != "s3:*" || p.Statements[2].NotActions[0] != "iam:*" {
		t.Fatalf("parsed %+v", p.Statements)
	}
	f, _ := Check(p)
	if len(f) != 2 {
		t.Errorf("findings = %v, want the s3:* action and the * resource of the second statement", f)
	}
	single, err := ParseJSON("single", []byte(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`))
	if err != nil || len(single.Statements) != 1 {
		t.Fatalf("single statement object: %+v, %v", single, err)
	}
	for _, bad := range []string{`not json`, `{"Statement":[{"Action":7}]}`, `{"Statement":"x"}`} {
		if _, err := ParseJSON("bad", []byte(bad)); err == nil {
			t.Errorf("ParseJSON(%s) succeeded", bad)
		}
	}
}

func TestParseModulesFindsWildcardsAndInlinePolicies(t *testing.T) {
	tests := []struct {
		name         string
		tf           string
		wantFindings int
		wantErr      bool
		attachments  int
	}{
		{
			name: "literal star in a statement and in a dynamic statement",
			tf: `
data "aws_iam_policy_document" "bad" {
  statement {
    actions   = ["dynamodb:*"]
    resources = [aws_dynamodb_table.t.arn]
  }
  dynamic "statement" {
    for_each = [1]
    content {
      actions   = ["ssm:GetParameter"]
      resources = ["*"]
    }
  }
}`,
			wantFindings: 2,
		},
		{
			name: "references and interpolations are specific",
			tf: `
data "aws_iam_policy_document" "good" {
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject", "kms:Decrypt*"]
    resources = ["${aws_s3_bucket.b.arn}/sales/*", var.key_arn]
  }
}`,
		},
		{
			name:    "inline jsonencode policy",
			tf:      `resource "aws_iam_role_policy" "p" { policy = jsonencode({ Statement = [] }) }`,
			wantErr: true,
		},
		{
			name: "an ECR lifecycle policy is not IAM",
			tf:   `resource "aws_ecr_lifecycle_policy" "p" { policy = jsonencode({ rules = [] }) }`,
		},
		{
			name:        "managed policy attachment",
			tf:          `resource "aws_iam_role_policy_attachment" "a" { policy_arn = "arn:${local.partition}:iam::aws:policy/PowerUserAccess" }`,
			attachments: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "m"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "m", "main.tf"), []byte(tt.tf), 0o644); err != nil {
				t.Fatal(err)
			}
			policies, attachments, err := ParseModules(dir)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error for an inline policy")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, p := range policies {
				f, _ := Check(p)
				n += len(f)
			}
			if n != tt.wantFindings {
				t.Errorf("findings = %d, want %d (%+v)", n, tt.wantFindings, policies)
			}
			if len(attachments) != tt.attachments {
				t.Fatalf("attachments = %+v, want %d", attachments, tt.attachments)
			}
			for _, a := range attachments {
				if _, _, bad := CheckManaged(a.Source, a.PolicyARN); !bad || !strings.Contains(a.PolicyARN, "PowerUserAccess") {
					t.Errorf("undocumented managed policy %s not reported", a.PolicyARN)
				}
			}
		})
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":["a:b"],"Resource":["x"]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParseJSON("fuzz", doc)
		if err != nil {
			return
		}
		// Whatever parses must be checkable, and a "*" in any Allow
		// statement's actions without an exception must be found.
		findings, _ := Check(p)
		for _, s := range p.Statements {
			if strings.EqualFold(s.Effect, "Deny") {
				continue
			}
			if _, ok := exceptionFor(s.Sid); ok {
				continue
			}
			for _, a := range s.Actions {
				if a == "*" && len(findings) == 0 {
					t.Fatalf("wildcard action not reported in %s", doc)
				}
			}
		}
	})
}
