# The event store: one item per event, partition key = sale id, sort key =
# "%010d#<origin region>" so two regions appending the same version of a
# sale never overwrite each other under last-writer-wins replication.

locals {
  replicated = length(var.replica_regions) > 0
  table_name = var.create_table ? aws_dynamodb_table.this[0].name : data.aws_dynamodb_table.existing[0].name
  table_arn  = var.create_table ? aws_dynamodb_table.this[0].arn : data.aws_dynamodb_table.existing[0].arn
  stream_arn = var.create_table ? aws_dynamodb_table.this[0].stream_arn : data.aws_dynamodb_table.existing[0].stream_arn
}

resource "aws_dynamodb_table" "this" {
  count = var.create_table ? 1 : 0

  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "sale_id"
  range_key                   = "position"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "sale_id"
    type = "S"
  }

  attribute {
    name = "position"
    type = "S"
  }

  # Global tables require NEW_AND_OLD_IMAGES; an append-only table has no
  # old image on INSERT, so the publisher reads the same NewImage either way.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "replica" {
    for_each = toset(var.replica_regions)
    content {
      region_name            = replica.value
      kms_key_arn            = lookup(var.replica_kms_key_arns, replica.value, null)
      point_in_time_recovery = var.point_in_time_recovery
      propagate_tags         = true
    }
  }

  tags = var.tags
}

# A replica created by the global layer is read in its own region: the
# provider reports the replicas' regions, not their stream ARNs.
data "aws_dynamodb_table" "existing" {
  count = var.create_table ? 0 : 1

  name = var.name
}
