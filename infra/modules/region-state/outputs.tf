output "parameter_name" {
  description = "Name of the region state parameter."
  value       = aws_ssm_parameter.state.name
}

output "parameter_arn" {
  description = "ARN of the region state parameter."
  value       = aws_ssm_parameter.state.arn
}

output "read_policy_json" {
  description = "IAM policy document that lets a service read the state (to merge into its task role)."
  value       = data.aws_iam_policy_document.read.json
}

output "operator_policy_arn" {
  description = "Managed policy that lets an operator flip the state."
  value       = aws_iam_policy.operate.arn
}
