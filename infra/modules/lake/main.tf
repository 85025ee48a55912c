# The region's data lake: versioned, encrypted with the region's own key
# (SSE-KMS with bucket keys, so each object does not cost a KMS call),
# private, owner-enforced, TLS-only, tiered by age. There is no S3
# replication between the regions' lakes: each region's worker writes its
# own lake from its own copy of every event, with conditional writes that
# converge two versions of one operation on the earliest (ADR 0071); a
# replica written by S3 would bypass those conditions.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_name = var.append_account_id ? "${var.name}-${data.aws_caller_identity.current.account_id}" : var.name
}

data "aws_iam_policy_document" "key" {
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "lake" {
  description             = "Sales lake ${local.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "lake" {
  name          = "alias/sales-lake"
  target_key_id = aws_kms_key.lake.key_id
}

# trivy:ignore:AVD-AWS-0089 Access logs of the lake would need a second bucket per region; CloudTrail data events are the audit trail of record for this account (see docs/infrastructure.md).
resource "aws_s3_bucket" "lake" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.lake.arn
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "lake" {
  count = var.deny_insecure_transport ? 1 : 0
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.lake.arn,
      "${aws_s3_bucket.lake.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  count  = var.deny_insecure_transport ? 1 : 0
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.lake[0].json

  # A bucket policy applied before the public access block could briefly
  # be evaluated without it.
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "tiering-and-noncurrent-versions"
    status = "Enabled"

    filter {}

    transition {
      days          = var.transition_to_ia_days
      storage_class = "STANDARD_IA"
    }

    transition {
      days          = var.transition_to_glacier_ir_days
      storage_class = "GLACIER_IR"
    }

    noncurrent_version_transition {
      noncurrent_days = var.transition_to_ia_days
      storage_class   = "STANDARD_IA"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  # Lifecycle rules on a versioned bucket act on versions: versioning first.
  depends_on = [aws_s3_bucket_versioning.lake]
}
