# Who may change the platform, without long-lived keys:
# - GitHub Actions through OIDC: a plan role for pull requests (read-only,
#   plus the state locks), an images role for main (push to the service
#   repositories only), a deploy role for the protected prod environment;
# - the operator role that flips region state and traffic dials (its
#   region-state and traffic policies are attached where those resources
#   are created).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  issuer    = "token.actions.githubusercontent.com"

  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account}:oidc-provider/${local.issuer}"

  state_objects = [for b in var.state_bucket_names : "arn:${local.partition}:s3:::${b}/*"]
  state_buckets = [for b in var.state_bucket_names : "arn:${local.partition}:s3:::${b}"]
}

# AWS validates GitHub's tokens against its own trust store; no thumbprint.
resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_policy_document" "github_assume" {
  for_each = {
    plan   = ["repo:${var.github_repository}:pull_request", "repo:${var.github_repository}:ref:refs/heads/${var.main_branch}"]
    images = ["repo:${var.github_repository}:ref:refs/heads/${var.main_branch}"]
    deploy = [for e in var.deploy_environments : "repo:${var.github_repository}:environment:${e}"]
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "github" {
  for_each = data.aws_iam_policy_document.github_assume

  name                 = "${var.name_prefix}-github-${each.key}"
  description          = "GitHub Actions of ${var.github_repository}: ${each.key}"
  assume_role_policy   = each.value.json
  max_session_duration = 3600
  tags                 = var.tags
}

# Plan: read everything Terraform refreshes (AWS's ReadOnlyAccess), and
# take the state lock files (use_lockfile writes <key>.tflock).
resource "aws_iam_role_policy_attachment" "plan_read_only" {
  count = var.attach_aws_managed_policies ? 1 : 0

  role       = aws_iam_role.github["plan"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
}

data "aws_iam_policy_document" "plan_state" {
  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = concat(local.state_buckets, local.state_objects)
  }

  statement {
    sid       = "TakeStateLocks"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = [for b in var.state_bucket_names : "arn:${local.partition}:s3:::${b}/*.tflock"]
  }
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "terraform-state"
  role   = aws_iam_role.github["plan"].id
  policy = data.aws_iam_policy_document.plan_state.json
}

# Images: push to the service repositories of the home region (replication
# copies them to the other regions).
data "aws_iam_policy_document" "images" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushServiceImages"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:DescribeImages",
    ]
    resources = var.repository_arns
  }
}

resource "aws_iam_role_policy" "images" {
  name   = "push-images"
  role   = aws_iam_role.github["images"].id
  policy = data.aws_iam_policy_document.images.json
}

# Deploy: Terraform creates roles, keys, networks and services in every
# region, so the role is administrator within the account; only the
# protected prod environment (required reviewers) may assume it.
resource "aws_iam_role_policy_attachment" "deploy_admin" {
  count = var.attach_aws_managed_policies ? 1 : 0

  role       = aws_iam_role.github["deploy"].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AdministratorAccess"
}

# The operator role: people (or a break-glass automation) assume it to fail
# over; its permissions are attached by region-state and routing.
data "aws_iam_policy_document" "operator_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.operator_principal_arns) > 0 ? var.operator_principal_arns : ["arn:${local.partition}:iam::${local.account}:root"]
    }
    condition {
      test     = "Bool"
      variable = "aws:MultiFactorAuthPresent"
      values   = [tostring(var.operator_requires_mfa)]
    }
  }
}

resource "aws_iam_role" "operator" {
  name                 = "${var.name_prefix}-operator"
  description          = "Flips region state and traffic dials (salesctl failover)"
  assume_role_policy   = data.aws_iam_policy_document.operator_assume.json
  max_session_duration = 3600
  tags                 = var.tags
}
