// Package iamcheck fails on IAM policy statements that allow "*" actions,
// service-wide wildcards ("sqs:*"), or "*" resources, unless the statement
// is one of the documented exceptions below, each with its reason.
//
// It reads policies two ways:
//   - statically, every `data "aws_iam_policy_document"` and every
//     attachment of an AWS managed policy in infra/modules (all modules,
//     including those only prod applies), so a wildcard is caught before
//     anything is planned;
//   - rendered, the documents an applied environment holds (the
//     infrastructure test reads them back from the emulator after the local
//     apply), so what Terraform produced is checked too.
//
// Deny statements are not findings (they only take permissions away).
package iamcheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Statement is one statement of a policy document. Values that are not
// literal in the source (references, function calls) are "<computed>":
// they name specific resources and can never be "*".
type Statement struct {
	Sid          string
	Effect       string
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
}

// Policy is a policy document and where it came from.
type Policy struct {
	Source     string
	Statements []Statement
}

// Finding is a statement that grants more than least privilege allows.
type Finding struct {
	Source string
	Sid    string
	Reason string
}

func (f Finding) String() string {
	sid := f.Sid
	if sid == "" {
		sid = "(no Sid)"
	}
	return fmt.Sprintf("%s: statement %s: %s", f.Source, sid, f.Reason)
}

// Computed stands for a value that is not a literal in the source.
const Computed = "<computed>"

// Exception is a documented wildcard: the statement with this Sid may use
// exactly these wildcard actions and/or the "*" resource.
type Exception struct {
	Sid string
	// Actions are the wildcard actions allowed ("kms:*"), empty for none.
	Actions []string
	// AnyResource allows Resource "*" together with specific actions.
	AnyResource bool
	// Managed is an AWS managed policy ARN suffix ("policy/ReadOnlyAccess")
	// whose attachment is allowed (its documents are AWS's, wide by design).
	Managed string
	Reason  string
}

// Exceptions are the documented wildcards of this project. Each is keyed
// by the statement's Sid, which the static check requires on every
// statement that needs one.
var Exceptions = []Exception{
	{
		Sid: "AccountAdministersKey", Actions: []string{"kms:*"}, AnyResource: true,
		Reason: `KMS key policy: "Resource": "*" means the key itself, and kms:* for the account root is AWS's default key policy, which lets IAM policies (not the key policy) grant the key`,
	},
	{Sid: "SnsUsesKey", AnyResource: true, Reason: `KMS key policy: "*" is the key itself; SNS may use it for this account only (aws:SourceAccount)`},
	{Sid: "CloudWatchUsesKey", AnyResource: true, Reason: `KMS key policy: "*" is the key itself; CloudWatch alarms may use it for this account only`},
	{Sid: "CloudWatchLogsUsesKey", AnyResource: true, Reason: `KMS key policy: "*" is the key itself; CloudWatch Logs may use it for this region's log groups only (encryption context condition)`},
	{Sid: "EcrLogin", AnyResource: true, Reason: `ecr:GetAuthorizationToken has no resource-level permission: it returns a registry token; what may be pulled or pushed is scoped to repositories in a separate statement`},
	{Managed: "policy/ReadOnlyAccess", Reason: `the pull-request plan role refreshes every resource Terraform manages; it can read but not change anything, and its state access is scoped to the state buckets`},
	{Managed: "policy/AdministratorAccess", Reason: `the deploy role applies Terraform, which creates roles, keys, networks and services in every region; only the protected prod environment (required reviewers) can assume it through OIDC`},
}

var serviceWildcard = regexp.MustCompile(`^[a-z0-9-]+:\*$`)

func exceptionFor(sid string) (Exception, bool) {
	for _, e := range Exceptions {
		if e.Sid != "" && e.Sid == sid {
			return e, true
		}
	}
	return Exception{}, false
}

// Check returns the findings of one policy, and the Sids of the exceptions
// it used.
func Check(p Policy) (findings []Finding, used []string) {
	for _, s := range p.Statements {
		if strings.EqualFold(s.Effect, "Deny") {
			continue
		}
		ex, hasEx := exceptionFor(s.Sid)
		usedEx := false
		if len(s.NotActions) > 0 {
			findings = append(findings, Finding{p.Source, s.Sid, "Allow with NotAction grants everything else"})
		}
		if len(s.NotResources) > 0 {
			findings = append(findings, Finding{p.Source, s.Sid, "Allow with NotResource grants every other resource"})
		}
		for _, a := range s.Actions {
			if a != "*" && !serviceWildcard.MatchString(a) {
				continue
			}
			if hasEx && contains(ex.Actions, a) {
				usedEx = true
				continue
			}
			findings = append(findings, Finding{p.Source, s.Sid, fmt.Sprintf("wildcard action %q", a)})
		}
		for _, r := range s.Resources {
			if r != "*" {
				continue
			}
			if hasEx && ex.AnyResource {
				usedEx = true
				continue
			}
			findings = append(findings, Finding{p.Source, s.Sid, `resource "*"`})
		}
		if usedEx {
			used = append(used, s.Sid)
		}
	}
	return findings, used
}

// CheckManaged returns a finding for an attachment of an AWS managed policy
// that no exception documents.
func CheckManaged(source, policyARN string) (Finding, string, bool) {
	for _, e := range Exceptions {
		if e.Managed != "" && strings.HasSuffix(policyARN, ":"+e.Managed) {
			return Finding{}, e.Managed, false
		}
	}
	return Finding{Source: source, Reason: fmt.Sprintf("attaches the AWS managed policy %s, which no exception documents", policyARN)}, "", true
}

// ParseJSON reads an IAM policy document (Action/Resource as a string or a
// list, Statement as an object or a list).
func ParseJSON(source string, doc []byte) (Policy, error) {
	var raw struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return Policy{}, fmt.Errorf("%s: not a policy document: %w", source, err)
	}
	var stmts []json.RawMessage
	trimmed := strings.TrimSpace(string(raw.Statement))
	switch {
	case trimmed == "" || trimmed == "null":
	case strings.HasPrefix(trimmed, "["):
		if err := json.Unmarshal(raw.Statement, &stmts); err != nil {
			return Policy{}, fmt.Errorf("%s: Statement: %w", source, err)
		}
	default:
		stmts = []json.RawMessage{raw.Statement}
	}
	p := Policy{Source: source}
	for i, rs := range stmts {
		var s struct {
			Sid         string          `json:"Sid"`
			Effect      string          `json:"Effect"`
			Action      json.RawMessage `json:"Action"`
			NotAction   json.RawMessage `json:"NotAction"`
			Resource    json.RawMessage `json:"Resource"`
			NotResource json.RawMessage `json:"NotResource"`
		}
		if err := json.Unmarshal(rs, &s); err != nil {
			return Policy{}, fmt.Errorf("%s: statement %d: %w", source, i, err)
		}
		st := Statement{Sid: s.Sid, Effect: s.Effect}
		var err error
		for _, f := range []struct {
			raw json.RawMessage
			dst *[]string
		}{{s.Action, &st.Actions}, {s.NotAction, &st.NotActions}, {s.Resource, &st.Resources}, {s.NotResource, &st.NotResources}} {
			if *f.dst, err = stringOrList(f.raw); err != nil {
				return Policy{}, fmt.Errorf("%s: statement %d: %w", source, i, err)
			}
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%s is neither a string nor a list of strings", raw)
	}
	return many, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Unused lists the exceptions no policy used: a stale exception is a
// finding too (it would silently admit a future wildcard).
func Unused(used map[string]bool) []string {
	var out []string
	for _, e := range Exceptions {
		key := e.Sid
		if key == "" {
			key = e.Managed
		}
		if !used[key] {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}
