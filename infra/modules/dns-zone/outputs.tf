output "zone_id" {
  description = "Id of the hosted zone."
  value       = local.zone_id
}

output "name_servers" {
  description = "Name servers to delegate the domain to."
  value       = local.name_servers
}

output "domain_name" {
  description = "The domain."
  value       = var.domain_name
}
