output "cluster_name" {
  description = "ECS cluster of the region."
  value       = module.cluster.cluster_name
}

output "api_service_name" {
  description = "The API's ECS service."
  value       = module.api.service_name
}

output "worker_service_name" {
  description = "The worker's ECS service."
  value       = module.worker.service_name
}

output "api_task_role_arn" {
  description = "The API's task role."
  value       = module.api.task_role_arn
}

output "worker_task_role_arn" {
  description = "The worker's task role."
  value       = module.worker.task_role_arn
}

output "api_task_policy_json" {
  description = "What the API may call (its task role's policy)."
  value       = data.aws_iam_policy_document.api.json
}

output "worker_task_policy_json" {
  description = "What the worker may call (its task role's policy)."
  value       = data.aws_iam_policy_document.worker.json
}

output "api_lb_dns_name" {
  description = "Internal load balancer in front of the API's tasks."
  value       = module.api_lb.lb_dns_name
}

output "api_target_group_arn" {
  description = "Target group of the API's tasks."
  value       = module.api_lb.target_group_arn
}

output "rest_api_id" {
  description = "The region's private REST API."
  value       = module.api_gateway.rest_api_id
}

output "api_invoke_url" {
  description = "The stage's own URL (through the VPC endpoint only)."
  value       = module.api_gateway.invoke_url
}

output "web_acl_arn" {
  description = "WAF web ACL guarding the API."
  value       = module.api_gateway.web_acl_arn
}

output "custom_domain_name" {
  description = "Custom domain of the API (empty without one)."
  value       = module.api_gateway.custom_domain_name
}

output "edge_lb_arn" {
  description = "Global Accelerator's endpoint in this region (empty without an edge)."
  value       = module.api_gateway.edge_lb_arn
}

output "api_image" {
  description = "Image the API runs."
  value       = module.api.image
}

output "worker_image" {
  description = "Image the worker runs."
  value       = module.worker.image
}
