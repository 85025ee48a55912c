output "accelerator_arn" {
  description = "ARN of the accelerator."
  value       = aws_globalaccelerator_accelerator.this.id
}

output "dns_name" {
  description = "DNS name of the accelerator."
  value       = aws_globalaccelerator_accelerator.this.dns_name
}

output "static_ip_addresses" {
  description = "The accelerator's two anycast addresses."
  value       = flatten([for s in aws_globalaccelerator_accelerator.this.ip_sets : s.ip_addresses])
}

output "listener_arn" {
  description = "ARN of the TCP 443 listener."
  value       = aws_globalaccelerator_listener.https.id
}

output "endpoint_group_arns" {
  description = "Endpoint group per region (what the failover command dials)."
  value       = { for r, g in aws_globalaccelerator_endpoint_group.region : r => g.arn }
}

output "traffic_operator_policy_arn" {
  description = "Managed policy that lets an operator move the dials."
  value       = aws_iam_policy.traffic_operator.arn
}

output "api_fqdn" {
  description = "The API's name pointing at the accelerator (empty without a zone)."
  value       = var.zone_id == "" ? "" : aws_route53_record.api["A"].fqdn
}
