output "topic_arn" {
  description = "ARN of the region's sales events topic (SNS_SALES_PROCESSING_TOPIC of the stream publisher)."
  value       = aws_sns_topic.events.arn
}

output "topic_name" {
  description = "Name of the region's sales events topic."
  value       = aws_sns_topic.events.name
}

output "queue_url" {
  description = "URL of the processing queue (SQS_SALES_QUEUE of the worker)."
  value       = aws_sqs_queue.processing.id
}

output "queue_arn" {
  description = "ARN of the processing queue."
  value       = aws_sqs_queue.processing.arn
}

output "queue_name" {
  description = "Name of the processing queue."
  value       = aws_sqs_queue.processing.name
}

output "dlq_url" {
  description = "URL of the processing queue's dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "dlq_arn" {
  description = "ARN of the processing queue's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the processing queue's dead-letter queue."
  value       = aws_sqs_queue.dlq.name
}

output "kms_key_arn" {
  description = "Key encrypting the topic and the queues: publishers need kms:GenerateDataKey and consumers kms:Decrypt on it."
  value       = aws_kms_key.messaging.arn
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the processing queue (the worker's idempotency lease must outlive it)."
  value       = aws_sqs_queue.processing.visibility_timeout_seconds
}

output "max_receive_count" {
  description = "Deliveries before a message moves to the dead-letter queue."
  value       = var.max_receive_count
}
