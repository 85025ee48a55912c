output "bucket_name" {
  description = "Name of the lake bucket (S3_SALES_BUCKET of the worker)."
  value       = aws_s3_bucket.lake.id
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.lake.arn
}

output "kms_key_arn" {
  description = "Key encrypting the lake: writers need kms:GenerateDataKey and kms:Decrypt (a merge reads the object it compares), readers kms:Decrypt."
  value       = aws_kms_key.lake.arn
}

output "kms_alias_name" {
  description = "Alias of the lake key (the same in every region)."
  value       = aws_kms_alias.lake.name
}
