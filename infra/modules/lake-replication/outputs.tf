output "role_arn" {
  description = "Role S3 assumes to replicate this region's lake."
  value       = aws_iam_role.replication.arn
}

output "destination_regions" {
  description = "Regions receiving copies of this region's lake."
  value       = sort(keys(var.destinations))
}
