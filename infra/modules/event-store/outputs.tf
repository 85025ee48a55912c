output "table_name" {
  description = "Name of the event table."
  value       = local.table_name
}

output "table_arn" {
  description = "ARN of the event table in this provider's region."
  value       = local.table_arn
}

output "stream_arn" {
  description = "ARN of the table's stream in this provider's region (the replica's own stream where this is a replica region); the stream publisher of this region consumes it."
  value       = local.stream_arn
}

output "replica_regions" {
  description = "Regions holding a replica of a table created here."
  value       = local.replicated ? sort(var.replica_regions) : []
}
