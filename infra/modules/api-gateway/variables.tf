variable "name" {
  description = "Name of the API and prefix of its resources."
  type        = string
  default     = "sales-api"
}

variable "vpc_id" {
  description = "VPC of the API's VPC endpoint and load balancers."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's CIDR block."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the execute-api VPC endpoint, one per zone."
  type        = list(string)
}

variable "endpoint_ingress_cidr_blocks" {
  description = "Who may reach the execute-api endpoint on 443 (the VPC; 0.0.0.0/0 when the edge load balancer preserves client addresses)."
  type        = list(string)
}

variable "resource_policy_enabled" {
  description = "Attach the resource policy that admits calls through the API's own VPC endpoint only (a private API without it answers nothing; off only where an emulator cannot store it)."
  type        = bool
  default     = true
}

variable "integration_lb_arn" {
  description = "Internal network load balancer in front of the API's tasks (the VPC link's target)."
  type        = string
}

variable "integration_lb_dns_name" {
  description = "DNS name of that load balancer."
  type        = string
}

variable "integration_port" {
  description = "Listener port of that load balancer."
  type        = number
  default     = 80
}

variable "integration_timeout_ms" {
  description = "How long API Gateway waits for the service (at most 29000)."
  type        = number
  default     = 10000
}

variable "stage_name" {
  description = "Stage serving the API."
  type        = string
  default     = "live"
}

variable "throttling_rate_limit" {
  description = "Steady requests per second the stage admits (per region)."
  type        = number
  default     = 500
}

variable "throttling_burst_limit" {
  description = "Burst of requests the stage admits above the steady rate."
  type        = number
  default     = 1000
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests one client address may send in 5 minutes before WAF blocks it."
  type        = number
  default     = 3000
}

variable "jwt_user_pool_arns" {
  description = "Cognito user pools whose JWTs the API requires (empty: no authorizer, the original clients keep working)."
  type        = list(string)
  default     = []
}

variable "access_log_retention_days" {
  description = "Retention of the stage's access logs."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "Key encrypting the access log group."
  type        = string
}

variable "manage_account_logging_role" {
  description = "Create the region's account-wide role through which API Gateway writes logs (once per account and region)."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Custom domain of the API (the same in every region), e.g. api.example.com."
  type        = string
  default     = ""
}

variable "zone_id" {
  description = "Route 53 hosted zone holding the domain (certificate validation records)."
  type        = string
  default     = ""
}

variable "certificate_enabled" {
  description = "Request the region's ACM certificate for domain_name, validated through Route 53."
  type        = bool
  default     = true
}

variable "custom_domain_enabled" {
  description = "Serve the API under domain_name (private custom domain associated with the VPC endpoint)."
  type        = bool
  default     = true
}

variable "edge_enabled" {
  description = "Create the edge load balancer that passes TLS from Global Accelerator through to the VPC endpoint."
  type        = bool
  default     = true
}

variable "edge_internal" {
  description = "Make the edge load balancer internal (false: internet-facing, as Global Accelerator endpoints commonly are)."
  type        = bool
  default     = false
}

variable "edge_subnet_ids" {
  description = "Subnets of the edge load balancer (public ones when it is internet-facing)."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Protect the edge load balancer against deletion."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
