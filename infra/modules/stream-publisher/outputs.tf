output "function_name" {
  description = "Name of the stream publisher function."
  value       = aws_lambda_function.publisher.function_name
}

output "function_arn" {
  description = "ARN of the stream publisher function."
  value       = aws_lambda_function.publisher.arn
}

output "role_arn" {
  description = "Execution role of the function."
  value       = aws_iam_role.publisher.arn
}

output "event_source_mapping_uuid" {
  description = "Id of the stream's event source mapping (null where the mapping is disabled)."
  value       = one(aws_lambda_event_source_mapping.stream[*].uuid)
}

output "filter_pattern" {
  description = "Filter criteria pattern of the mapping (INSERT records whose origin_region is this region)."
  value       = local.filter_pattern
}

output "failure_queue_url" {
  description = "URL of the queue receiving the metadata of batches the mapping gave up on."
  value       = aws_sqs_queue.failures.id
}

output "failure_queue_arn" {
  description = "ARN of the publisher's failure queue."
  value       = aws_sqs_queue.failures.arn
}

output "failure_queue_name" {
  description = "Name of the publisher's failure queue."
  value       = aws_sqs_queue.failures.name
}
