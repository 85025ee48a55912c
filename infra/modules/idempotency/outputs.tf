output "table_name" {
  description = "Name of the idempotency table."
  value       = local.table_name
}

output "table_arn" {
  description = "ARN of the idempotency table in this provider's region (for the worker's task role)."
  value       = local.table_arn
}

output "replica_regions" {
  description = "Regions holding a replica of a table created here."
  value       = local.replicated ? sort(var.replica_regions) : []
}
