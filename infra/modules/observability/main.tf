# Alarms of the data path of one region, all sent to one alarm topic.
# Compute-layer alarms (5xx, ECS) join this topic from their own modules.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

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

  # CloudWatch publishes alarms into the encrypted topic.
  statement {
    sid       = "CloudWatchUsesKey"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "Sales alarm topic ${var.alarm_topic_name} in ${data.aws_region.current.name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_sns_topic" "alarms" {
  name              = var.alarm_topic_name
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid       = "CloudWatchPublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

locals {
  actions = [aws_sns_topic.alarms.arn]

  queue_depth_alarms = {
    "processing-dlq-not-empty" = {
      queue       = var.processing_dlq_name
      description = "Messages in ${var.processing_dlq_name}: events the worker could not process. Inspect and redrive (salesctl dlq)."
    }
    "publisher-failures-not-empty" = {
      queue       = var.publisher_failure_queue_name
      description = "Messages in ${var.publisher_failure_queue_name}: stream batches the publisher gave up on. Replay them from the event store (salesctl replay)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "queue_not_empty" {
  for_each = local.queue_depth_alarms

  alarm_name          = "sales-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name          = "sales-processing-oldest-message-age"
  alarm_description   = "The oldest message of ${var.processing_queue_name} is older than ${var.oldest_message_age_threshold_seconds}s: the worker is behind, stopped, or the region is PASSIVE."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = var.processing_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "publisher_iterator_age" {
  alarm_name          = "sales-stream-publisher-iterator-age"
  alarm_description   = "${var.publisher_function_name} is more than ${var.iterator_age_threshold_ms}ms behind the event store stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = var.publisher_function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.iterator_age_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "publisher_errors" {
  alarm_name          = "sales-stream-publisher-errors"
  alarm_description   = "${var.publisher_function_name} failed invocations (the mapping retries, bisects, then gives up to its failure queue)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = var.publisher_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.publisher_error_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
