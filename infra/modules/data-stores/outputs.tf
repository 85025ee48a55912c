output "event_table_name" {
  description = "Event store table (DYNAMO_SALES_TABLE)."
  value       = module.event_store.table_name
}

output "event_table_arn" {
  description = "Event store table ARN in this region."
  value       = module.event_store.table_arn
}

output "event_stream_arn" {
  description = "Stream of the event store table in this region (the stream publisher's source)."
  value       = module.event_store.stream_arn
}

output "idempotency_table_name" {
  description = "Idempotency table (DYNAMO_SALES_IDEMPOTENCY_TABLE)."
  value       = module.idempotency.table_name
}

output "idempotency_table_arn" {
  description = "Idempotency table ARN in this region."
  value       = module.idempotency.table_arn
}

output "lake_bucket_name" {
  description = "Lake bucket (S3_SALES_BUCKET)."
  value       = module.lake.bucket_name
}

output "lake_bucket_arn" {
  description = "Lake bucket ARN."
  value       = module.lake.bucket_arn
}

output "lake_kms_key_arn" {
  description = "Key encrypting the lake."
  value       = module.lake.kms_key_arn
}

output "region_state_parameter_name" {
  description = "Region state parameter (SSM_PARAMETER_STORE_STATE)."
  value       = module.region_state.parameter_name
}

output "region_state_parameter_arn" {
  description = "Region state parameter ARN."
  value       = module.region_state.parameter_arn
}

output "region_state_read_policy_json" {
  description = "Policy document letting a service read the region state."
  value       = module.region_state.read_policy_json
}

output "region_state_operator_policy_arn" {
  description = "Managed policy letting an operator flip the region state."
  value       = module.region_state.operator_policy_arn
}

output "failover_fence_policy_arn" {
  description = "Managed policy letting an operator write and read the failover fence items (and nothing else) in this region's tables."
  value       = aws_iam_policy.failover_fence.arn
}
