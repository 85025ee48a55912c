# The region's ACTIVE/PASSIVE switch, read by the API and the worker (cached
# for a few seconds) and flipped by the failover command.

data "aws_region" "current" {}

resource "aws_ssm_parameter" "state" {
  name        = var.name
  description = "ACTIVE or PASSIVE: whether the sales services of ${data.aws_region.current.name} take writes and process events"
  type        = "String"
  value       = var.initial_state
  tier        = "Standard"
  tags        = var.tags

  # A failover sets the value outside Terraform; the next apply must not
  # undo it.
  lifecycle {
    ignore_changes = [value]
  }
}

# Reading is for the services' task roles; writing only for operators (the
# failover command), never for a service.
data "aws_iam_policy_document" "read" {
  statement {
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.state.arn]
  }
}

data "aws_iam_policy_document" "operate" {
  statement {
    actions   = ["ssm:GetParameter", "ssm:PutParameter", "ssm:GetParameterHistory"]
    resources = [aws_ssm_parameter.state.arn]
  }
}

resource "aws_iam_policy" "operate" {
  name        = "sales-region-state-operator-${data.aws_region.current.name}"
  description = "Flip the sales region state of ${data.aws_region.current.name} (attach to the operator role only)"
  policy      = data.aws_iam_policy_document.operate.json
  tags        = var.tags
}
