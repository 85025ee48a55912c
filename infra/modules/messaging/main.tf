# One region's messaging: the sales events topic, the processing queue and
# its dead-letter queue, all encrypted with a customer managed key that SNS
# may use (an AWS managed key cannot be granted to SNS, so SNS could not
# deliver into a queue encrypted with it).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Topic ARNs are deterministic (same name, same account in every region),
  # so the queue policy can admit every region's topic before the other
  # regions exist; the global layer adds the subscriptions afterwards.
  publisher_topic_arns = sort([
    for r in distinct(concat(var.publisher_regions, [local.region])) :
    "arn:${local.partition}:sns:${r}:${local.account_id}:${var.topic_name}"
  ])

  # Two budgets: a message being worked on is never handed to a second
  # consumer before its first consumer's budget has run out twice; longer
  # work extends the visibility (heartbeat).
  visibility_timeout_seconds = max(30, ceil(var.processing_budget_seconds * 2))
}

data "aws_iam_policy_document" "key" {
  # The account administers the key and may grant it through IAM policies
  # (the publisher's and the worker's roles get kms:GenerateDataKey/Decrypt).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # SNS encrypts messages in the topic and delivers into the encrypted queues
  # (its own region's topic and the other regions' topics of this account).
  statement {
    sid       = "SnsUsesKey"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "messaging" {
  description             = "Sales messaging (topic ${var.topic_name}, queues ${var.queue_name}, ${var.dlq_name}) in ${local.region}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "messaging" {
  name          = "alias/${var.topic_name}-messaging"
  target_key_id = aws_kms_key.messaging.key_id
}

resource "aws_sns_topic" "events" {
  name              = var.topic_name
  kms_master_key_id = aws_kms_key.messaging.arn
  tags              = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                              = var.dlq_name
  message_retention_seconds         = var.dlq_retention_seconds
  kms_master_key_id                 = aws_kms_key.messaging.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue" "processing" {
  name                              = var.queue_name
  visibility_timeout_seconds        = local.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = aws_kms_key.messaging.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags

  # aws_sqs_queue_redrive_policy below owns the attribute.
  lifecycle {
    ignore_changes = [redrive_policy]
  }
}

# A separate resource (not the queue's redrive_policy argument), so the queue
# and its DLQ can be created in either order and the policy compared as JSON.
resource "aws_sqs_queue_redrive_policy" "processing" {
  queue_url = aws_sqs_queue.processing.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  # Skipped where the emulator hangs on SetQueueAttributes(RedriveAllowPolicy).
  count = var.redrive_allow_policy_enabled ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.processing.arn]
  })
}

data "aws_iam_policy_document" "processing_queue" {
  statement {
    sid       = "TopicsOfEveryRegionSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.processing.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.publisher_topic_arns
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.processing.arn]
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

resource "aws_sqs_queue_policy" "processing" {
  queue_url = aws_sqs_queue.processing.id
  policy    = data.aws_iam_policy_document.processing_queue.json

  # The policy is set last: moto clears a queue's Policy on every
  # SetQueueAttributes that does not repeat it (the redrive policy's), and
  # the provider then waits forever for the policy. Harmless on AWS.
  depends_on = [aws_sqs_queue_redrive_policy.processing]
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.dlq.arn]
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

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json

  # Set last, after the redrive allow policy (see the processing queue).
  depends_on = [aws_sqs_queue_redrive_allow_policy.dlq]
}

# This region's topic -> this region's queue. The other regions' topics
# subscribe this queue from the global layer, with their own region's
# provider.
module "own_region_subscription" {
  source = "../sns-sqs-subscription"

  topic_arn   = aws_sns_topic.events.arn
  queue_arns  = { (local.region) = aws_sqs_queue.processing.arn }
  event_types = var.subscribed_event_types

  depends_on = [aws_sqs_queue_policy.processing]
}
