output "topic_arn" {
  description = "Region's sales events topic (SNS_SALES_PROCESSING_TOPIC)."
  value       = module.messaging.topic_arn
}

output "messaging_kms_key_arn" {
  description = "Key of the topic and the queues (publishers: GenerateDataKey; consumers: Decrypt)."
  value       = module.messaging.kms_key_arn
}

output "processing_queue_url" {
  description = "Processing queue URL (SQS_SALES_QUEUE)."
  value       = module.messaging.queue_url
}

output "processing_queue_arn" {
  description = "Processing queue ARN."
  value       = module.messaging.queue_arn
}

output "processing_dlq_url" {
  description = "Processing dead-letter queue URL."
  value       = module.messaging.dlq_url
}

output "processing_dlq_arn" {
  description = "Processing dead-letter queue ARN."
  value       = module.messaging.dlq_arn
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the processing queue (the worker's idempotency lease must outlive it)."
  value       = module.messaging.visibility_timeout_seconds
}

output "publisher_function_name" {
  description = "Stream publisher function."
  value       = module.stream_publisher.function_name
}

output "publisher_filter_pattern" {
  description = "Filter criteria of the publisher's event source mapping."
  value       = module.stream_publisher.filter_pattern
}

output "publisher_failure_queue_url" {
  description = "Stream publisher's on-failure destination queue URL."
  value       = module.stream_publisher.failure_queue_url
}

output "alarm_topic_arn" {
  description = "Topic receiving the region's alarms."
  value       = module.observability.alarm_topic_arn
}
