output "plan_role_arn" {
  description = "Role of pull-request plans (AWS_ROLE_PLAN in the workflows)."
  value       = aws_iam_role.github["plan"].arn
}

output "images_role_arn" {
  description = "Role that pushes images from main (AWS_ROLE_IMAGES)."
  value       = aws_iam_role.github["images"].arn
}

output "deploy_role_arn" {
  description = "Role of the prod deployments (AWS_ROLE_DEPLOY)."
  value       = aws_iam_role.github["deploy"].arn
}

output "operator_role_name" {
  description = "The operator role (region state and traffic dials)."
  value       = aws_iam_role.operator.name
}

output "operator_role_arn" {
  description = "ARN of the operator role."
  value       = aws_iam_role.operator.arn
}
