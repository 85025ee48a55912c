package iamcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Attachment is an attachment of a managed policy named by a literal ARN.
type Attachment struct {
	Source    string
	PolicyARN string
}

// ParseModules reads every module under dir (dir/<module>/*.tf): each
// aws_iam_policy_document data source becomes a Policy (its statements,
// including dynamic ones), each aws_iam_role_policy_attachment of an
// "arn:...:iam::aws:policy/..." literal an Attachment. Inline JSON policies
// (jsonencode or heredocs on policy arguments) are reported as errors:
// the project writes every policy as a document so this check can read it.
func ParseModules(dir string) ([]Policy, []Attachment, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.tf"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)
	var policies []Policy
	var attachments []Attachment
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		p, a, err := parseFile(f, src)
		if err != nil {
			return nil, nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		for i := range p {
			p[i].Source = rel + ": " + p[i].Source
		}
		for i := range a {
			a[i].Source = rel + ": " + a[i].Source
		}
		policies = append(policies, p...)
		attachments = append(attachments, a...)
	}
	return policies, attachments, nil
}

// policyArguments are the arguments of resources that take an IAM policy
// document; they must reference a data source, never inline JSON.
var policyArguments = map[string]map[string]bool{
	"aws_iam_role":                    {"assume_role_policy": true},
	"aws_iam_role_policy":             {"policy": true},
	"aws_iam_policy":                  {"policy": true},
	"aws_iam_user_policy":             {"policy": true},
	"aws_iam_group_policy":            {"policy": true},
	"aws_kms_key":                     {"policy": true},
	"aws_sqs_queue_policy":            {"policy": true},
	"aws_sns_topic_policy":            {"policy": true},
	"aws_s3_bucket_policy":            {"policy": true},
	"aws_ecr_repository_policy":       {"policy": true},
	"aws_api_gateway_rest_api_policy": {"policy": true},
	"aws_api_gateway_domain_name":     {"policy": true},
}

func parseFile(name string, src []byte) ([]Policy, []Attachment, error) {
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("parse %s: %s", name, diags.Error())
	}
	body := file.Body.(*hclsyntax.Body)
	var policies []Policy
	var attachments []Attachment
	for _, b := range body.Blocks {
		if len(b.Labels) != 2 {
			continue
		}
		kind, typ, label := b.Type, b.Labels[0], b.Labels[1]
		switch {
		case kind == "data" && typ == "aws_iam_policy_document":
			p := Policy{Source: "data." + typ + "." + label}
			for _, sb := range b.Body.Blocks {
				switch {
				case sb.Type == "statement":
					p.Statements = append(p.Statements, statement(sb.Body))
				case sb.Type == "dynamic" && len(sb.Labels) == 1 && sb.Labels[0] == "statement":
					for _, cb := range sb.Body.Blocks {
						if cb.Type == "content" {
							p.Statements = append(p.Statements, statement(cb.Body))
						}
					}
				}
			}
			policies = append(policies, p)
		case kind == "resource":
			if typ == "aws_iam_role_policy_attachment" || typ == "aws_iam_policy_attachment" || typ == "aws_iam_user_policy_attachment" {
				if attr, ok := b.Body.Attributes["policy_arn"]; ok {
					if arn := templateText(attr.Expr); strings.Contains(arn, ":iam::aws:policy/") {
						attachments = append(attachments, Attachment{Source: "resource." + typ + "." + label, PolicyARN: arn})
					}
				}
			}
			for argName, attr := range b.Body.Attributes {
				if !policyArguments[typ][argName] {
					continue
				}
				if inlinePolicy(attr.Expr) {
					return nil, nil, fmt.Errorf("%s: resource.%s.%s: %s is written inline; write it as an aws_iam_policy_document so the IAM check reads it", name, typ, label, argName)
				}
			}
		}
	}
	return policies, attachments, nil
}

// inlinePolicy reports a jsonencode(...) call or a literal/heredoc string.
func inlinePolicy(e hclsyntax.Expression) bool {
	switch x := e.(type) {
	case *hclsyntax.FunctionCallExpr:
		return x.Name == "jsonencode"
	case *hclsyntax.TemplateExpr:
		_, literal := literalTemplate(x)
		return literal
	}
	return false
}

func statement(b *hclsyntax.Body) Statement {
	s := Statement{Effect: "Allow"}
	if v, ok := stringAttr(b, "effect"); ok {
		s.Effect = v
	}
	if v, ok := stringAttr(b, "sid"); ok {
		s.Sid = v
	}
	s.Actions = listAttr(b, "actions")
	s.NotActions = listAttr(b, "not_actions")
	s.Resources = listAttr(b, "resources")
	s.NotResources = listAttr(b, "not_resources")
	return s
}

func stringAttr(b *hclsyntax.Body, name string) (string, bool) {
	attr, ok := b.Attributes[name]
	if !ok {
		return "", false
	}
	if v, ok := literalTemplate(attr.Expr); ok {
		return v, true
	}
	return Computed, true
}

// listAttr returns a list attribute's elements: literal strings as they
// are, everything else as Computed.
func listAttr(b *hclsyntax.Body, name string) []string {
	attr, ok := b.Attributes[name]
	if !ok {
		return nil
	}
	tuple, ok := attr.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return []string{Computed}
	}
	out := make([]string, 0, len(tuple.Exprs))
	for _, e := range tuple.Exprs {
		if v, ok := literalTemplate(e); ok {
			out = append(out, v)
		} else {
			out = append(out, Computed)
		}
	}
	return out
}

// templateText renders a string template with Computed for every
// interpolation ("arn:${local.partition}:iam::aws:policy/X" ->
// "arn:<computed>:iam::aws:policy/X"); "" for other expressions.
func templateText(e hclsyntax.Expression) string {
	t, ok := e.(*hclsyntax.TemplateExpr)
	if !ok {
		return ""
	}
	var sb strings.Builder
	for _, part := range t.Parts {
		if lit, ok := part.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type().Equals(ctyString) {
			sb.WriteString(lit.Val.AsString())
		} else {
			sb.WriteString(Computed)
		}
	}
	return sb.String()
}

// literalTemplate returns the value of a string with no interpolation.
func literalTemplate(e hclsyntax.Expression) (string, bool) {
	t, ok := e.(*hclsyntax.TemplateExpr)
	if !ok {
		return "", false
	}
	var sb strings.Builder
	for _, part := range t.Parts {
		lit, ok := part.(*hclsyntax.LiteralValueExpr)
		if !ok || !lit.Val.Type().Equals(ctyString) {
			return "", false
		}
		sb.WriteString(lit.Val.AsString())
	}
	return sb.String(), true
}
