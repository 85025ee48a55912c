output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Zones the subnets are spread over."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets, one per zone (NAT gateways, internet-facing load balancers)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per zone (tasks, internal load balancers, endpoints)."
  value       = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets."
  value       = aws_route_table.private[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateways (none, one, or one per zone)."
  value       = aws_nat_gateway.this[*].id
}

output "gateway_prefix_list_ids" {
  description = "Prefix lists of the DynamoDB and S3 gateway endpoints (for security group egress rules)."
  value       = { for k, e in aws_vpc_endpoint.gateway : k => e.prefix_list_id }
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "logs_kms_key_arn" {
  description = "Key for the region's log groups."
  value       = aws_kms_key.logs.arn
}

output "flow_log_group_name" {
  description = "Log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
