output "rest_api_id" {
  description = "Id of the private REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "stage_name" {
  description = "Stage serving the API."
  value       = aws_api_gateway_stage.this.stage_name
}

output "stage_arn" {
  description = "ARN of the stage (WAF association)."
  value       = aws_api_gateway_stage.this.arn
}

output "invoke_url" {
  description = "The stage's own URL (resolves only through the VPC endpoint)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "vpc_endpoint_id" {
  description = "The private API's execute-api VPC endpoint."
  value       = aws_vpc_endpoint.execute_api.id
}

output "vpc_link_id" {
  description = "VPC link to the internal load balancer."
  value       = aws_api_gateway_vpc_link.this.id
}

output "web_acl_arn" {
  description = "WAF web ACL guarding the stage."
  value       = aws_wafv2_web_acl.this.arn
}

output "access_log_group_name" {
  description = "Log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "certificate_arn" {
  description = "The region's ACM certificate for the custom domain (empty without one)."
  value       = var.certificate_enabled ? aws_acm_certificate_validation.api[0].certificate_arn : ""
}

output "custom_domain_name" {
  description = "Custom domain serving the API (empty without one)."
  value       = var.custom_domain_enabled ? aws_api_gateway_domain_name.this[0].domain_name : ""
}

output "edge_lb_arn" {
  description = "Edge load balancer (Global Accelerator's endpoint in this region), empty without one."
  value       = var.edge_enabled ? module.edge[0].lb_arn : ""
}

output "edge_lb_dns_name" {
  description = "DNS name of the edge load balancer, empty without one."
  value       = var.edge_enabled ? module.edge[0].lb_dns_name : ""
}
