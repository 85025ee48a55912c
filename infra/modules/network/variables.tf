variable "name" {
  description = "Name of the VPC and prefix of its resources."
  type        = string
  default     = "sales"
}

variable "cidr_block" {
  description = "The VPC's CIDR block (a /16; each region has its own, non-overlapping, from its region.hcl)."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 16
    error_message = "cidr_block must be an IPv4 CIDR of /16 or larger (it is split into sixteen /20 subnets)."
  }
}

variable "az_count" {
  description = "Availability zones to spread the subnets over (one public and one private subnet each)."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6."
  }
}

variable "nat_gateways" {
  description = "NAT for the private subnets: per_az (one per zone, survives a zone's loss), single (one for the VPC, cheaper) or none (the services reach AWS through the VPC endpoints only)."
  type        = string
  default     = "per_az"

  validation {
    condition     = contains(["per_az", "single", "none"], var.nat_gateways)
    error_message = "nat_gateways must be per_az, single or none."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through interface endpoints (service name suffixes, e.g. sqs, ecr.api)."
  type        = list(string)
  default     = ["sqs", "sns", "ssm", "ecr.api", "ecr.dkr", "logs"]
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs."
  type        = number
  default     = 30
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the region's log key is deleted after a destroy."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
