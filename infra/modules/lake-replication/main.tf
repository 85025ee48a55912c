# Cross-region replication of one lake bucket to the other regions' lakes
# (applied once per source region, which makes it "both ways"). Objects are
# SSE-KMS: replication decrypts with the source region's key and encrypts
# with each destination region's own key.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  source_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.source_bucket_name}"
  region      = data.aws_region.current.name
  destination = { for i, r in sort(keys(var.destinations)) : r => merge(var.destinations[r], { priority = i + 1 }) }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  name               = "sales-lake-replication-${local.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "replication" {
  statement {
    sid       = "ReadReplicationConfiguration"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [local.source_arn]
  }

  statement {
    sid = "ReadSourceVersions"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
    ]
    resources = ["${local.source_arn}/*"]
  }

  statement {
    sid       = "WriteReplicas"
    actions   = ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    resources = [for d in values(var.destinations) : "${d.bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptSource"
    actions   = ["kms:Decrypt"]
    resources = [var.source_kms_key_arn]
  }

  statement {
    sid       = "EncryptReplicas"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [for d in values(var.destinations) : d.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  name   = "replicate-lake"
  role   = aws_iam_role.replication.id
  policy = data.aws_iam_policy_document.replication.json
}

resource "aws_s3_bucket_replication_configuration" "lake" {
  bucket = var.source_bucket_name
  role   = aws_iam_role.replication.arn

  dynamic "rule" {
    for_each = local.destination
    content {
      id       = "to-${rule.key}"
      priority = rule.value.priority
      status   = "Enabled"

      filter {}

      delete_marker_replication {
        status = var.replicate_deletes ? "Enabled" : "Disabled"
      }

      source_selection_criteria {
        sse_kms_encrypted_objects {
          status = "Enabled"
        }
      }

      destination {
        bucket        = rule.value.bucket_arn
        storage_class = "STANDARD"

        encryption_configuration {
          replica_kms_key_id = rule.value.kms_key_arn
        }
      }
    }
  }

  depends_on = [aws_iam_role_policy.replication]
}
