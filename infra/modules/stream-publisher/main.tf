# The stream publisher: reads the event table's stream in its own region and
# publishes each INSERT that originated in this region to the region's topic.
# Records that global tables replicated in from another region are filtered
# out here (filter criteria) and again in the handler, so no event is
# published twice.

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name

  # Only new events of this region: replicated items keep their
  # origin_region, so the other region's publisher owns them.
  filter_pattern = jsonencode({
    eventName = ["INSERT"]
    dynamodb = {
      NewImage = {
        origin_region = { S = [local.region] }
      }
    }
  })
}

resource "aws_sqs_queue" "failures" {
  name                              = var.failure_queue_name
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.messaging_kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

# trivy:ignore:AVD-AWS-0017 The publisher logs ids and counts, never sale payloads; CloudWatch Logs encrypts them at rest with its own keys, and a customer key would need a key policy for the logs service in every region.
resource "aws_cloudwatch_log_group" "publisher" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "publisher" {
  name               = "${var.function_name}-${local.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Least privilege: this stream, this topic (and its key), this failure queue,
# this log group. Nothing else.
data "aws_iam_policy_document" "publisher" {
  statement {
    sid       = "ReadOwnStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [var.stream_arn]
  }

  statement {
    # ListStreams names no stream; scoped to this table's streams as in the
    # DynamoDB documentation's stream-only policy.
    sid       = "ListOwnTableStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["${var.table_arn}/stream/*"]
  }

  statement {
    sid       = "PublishToRegionTopic"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }

  statement {
    sid       = "SendFailureMetadata"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }

  statement {
    sid       = "UseMessagingKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.messaging_kms_key_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.publisher.arn}:*"]
  }
}

resource "aws_iam_role_policy" "publisher" {
  name   = "stream-publisher"
  role   = aws_iam_role.publisher.id
  policy = data.aws_iam_policy_document.publisher.json
}

# trivy:ignore:AVD-AWS-0066 X-Ray is off: its write actions take no resource-level permission (xray:Put* on "*"), and the publisher's latency is measured by the mapping's IteratorAge alarm and the function's own metrics.
resource "aws_lambda_function" "publisher" {
  function_name    = var.function_name
  description      = "Publishes ${local.region}'s new sales events from the event store stream to SNS"
  role             = aws_iam_role.publisher.arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  environment {
    variables = merge(var.environment, {
      SNS_SALES_PROCESSING_TOPIC = var.topic_arn
    })
  }

  tags = var.tags

  # The log group above is the function's default one (/aws/lambda/<name>):
  # created first, with a retention, before the function could create it.
  depends_on = [aws_iam_role_policy.publisher, aws_cloudwatch_log_group.publisher]
}

resource "aws_lambda_event_source_mapping" "stream" {
  count = var.event_source_mapping_enabled ? 1 : 0

  event_source_arn                   = var.stream_arn
  function_name                      = aws_lambda_function.publisher.arn
  starting_position                  = var.starting_position
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_seconds
  parallelization_factor             = var.parallelization_factor
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_seconds
  bisect_batch_on_function_error     = true
  function_response_types            = ["ReportBatchItemFailures"]

  filter_criteria {
    filter {
      pattern = local.filter_pattern
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }
}
