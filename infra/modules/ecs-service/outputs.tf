output "service_name" {
  description = "Name of the service."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the service."
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "Task definition revision the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "image" {
  description = "Image the task definition runs."
  value       = local.image
}

output "task_role_arn" {
  description = "Role of the application."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the application's role."
  value       = aws_iam_role.task.name
}

output "execution_role_arn" {
  description = "Role of the ECS agent for this service."
  value       = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "Security group of the tasks."
  value       = aws_security_group.this.id
}

output "log_group_name" {
  description = "Log group of the service."
  value       = aws_cloudwatch_log_group.this.name
}
