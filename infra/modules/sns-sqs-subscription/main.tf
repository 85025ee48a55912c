# SNS -> SQS subscriptions with raw delivery (the queue gets the event
# envelope as the body and the SNS message attributes as SQS attributes) and
# a filter on the event_type attribute (the processing queue takes what the
# worker processes, not SaleProcessed, which the worker itself appends).

resource "aws_sns_topic_subscription" "queue" {
  for_each = var.queue_arns

  topic_arn            = var.topic_arn
  protocol             = "sqs"
  endpoint             = each.value
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy        = jsonencode({ event_type = var.event_types })
}
