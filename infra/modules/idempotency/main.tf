# Claims of the sales worker: one item per event id (INPROGRESS with a lease,
# then COMPLETED), expired by TTL. Global, so a claim completed in one region
# is seen by the other region's worker after a failover.

locals {
  replicated = length(var.replica_regions) > 0
  table_name = var.create_table ? aws_dynamodb_table.this[0].name : data.aws_dynamodb_table.existing[0].name
  table_arn  = var.create_table ? aws_dynamodb_table.this[0].arn : data.aws_dynamodb_table.existing[0].arn
}

resource "aws_dynamodb_table" "this" {
  count = var.create_table ? 1 : 0

  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  # Global tables replicate through this stream; in the local environment
  # (no replicas) the development replication stand-in (dev/replication)
  # reads it instead, so it is always on. No service consumes it.
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

data "aws_dynamodb_table" "existing" {
  count = var.create_table ? 0 : 1

  name = var.name
}
