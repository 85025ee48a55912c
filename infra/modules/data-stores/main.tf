# The stateful stores of one region, deployed together as one unit: they
# change rarely, are protected against deletion, and share a lifecycle that
# is different from the event pipeline's (docs/adr/0012-unit-granularity.md).

module "event_store" {
  source = "../event-store"

  name                = var.event_table_name
  create_table        = var.create_tables
  deletion_protection = var.deletion_protection
  tags                = var.tags
}

module "idempotency" {
  source = "../idempotency"

  name                = var.idempotency_table_name
  create_table        = var.create_tables
  deletion_protection = var.deletion_protection
  tags                = var.tags
}

module "lake" {
  source = "../lake"

  name                     = var.lake_name
  append_account_id        = var.lake_append_account_id
  force_destroy            = var.force_destroy
  kms_deletion_window_days = var.kms_deletion_window_days
  deny_insecure_transport  = var.lake_deny_insecure_transport
  tags                     = var.tags
}

module "region_state" {
  source = "../region-state"

  name          = var.region_state_parameter
  initial_state = var.initial_region_state
  tags          = var.tags
}

# The failover command proves replication has converged by writing a fence
# item in the region it leaves and reading it back in the region it enters
# (cmd/salesctl/internal/failover/converge.go), and closes and opens the
# regions' write gates (libs/sales/eventstore/dynamodb/gate.go). Only those
# keys: the event store's partitions "failover-fence" and "write-gate" and
# the idempotency table's "failover-fence#<id>" — never a sale or a claim.
data "aws_region" "current" {}

data "aws_iam_policy_document" "failover_fence" {
  statement {
    sid       = "EventStoreFence"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]
    resources = [module.event_store.table_arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["failover-fence", "write-gate"]
    }
  }
  statement {
    sid       = "IdempotencyFence"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]
    resources = [module.idempotency.table_arn]
    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = ["failover-fence#*"]
    }
  }
}

resource "aws_iam_policy" "failover_fence" {
  name        = "sales-failover-fence-${data.aws_region.current.name}"
  description = "Write, read and delete the failover fence and write gate items in ${data.aws_region.current.name} (attach to the operator role only)"
  policy      = data.aws_iam_policy_document.failover_fence.json
  tags        = var.tags
}
