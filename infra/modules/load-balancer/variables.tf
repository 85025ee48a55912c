variable "name" {
  description = "Name of the load balancer and its target group (at most 32 characters)."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "name must be at most 28 characters (the security group appends -nlb)."
  }
}

variable "internal" {
  description = "Internal (private subnets, reachable from the VPC only) or internet-facing."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC of the load balancer and its targets."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's CIDR block: the load balancer sends to its targets inside it only."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the load balancer's nodes, one per zone."
  type        = list(string)
}

variable "ingress_cidr_blocks" {
  description = "Who may reach the listener (the VPC's CIDR for an internal load balancer)."
  type        = list(string)
}

variable "listener_port" {
  description = "TCP port of the listener."
  type        = number
}

variable "target_port" {
  description = "TCP port of the targets (traffic and health checks)."
  type        = number
}

variable "health_check_path" {
  description = "HTTP path of the target health check, or \"\" for a TCP check."
  type        = string
  default     = "/healthcheck"
}

variable "health_check_interval_seconds" {
  description = "Seconds between health checks (two failures mark a target unhealthy)."
  type        = number
  default     = 10
}

variable "deregistration_delay_seconds" {
  description = "How long a deregistering target keeps its connections before they are closed; covers the target's graceful shutdown."
  type        = number
  default     = 30
}

variable "preserve_client_ip" {
  description = "Targets see the client's address instead of the load balancer's."
  type        = bool
  default     = false
}

variable "ip_targets" {
  description = "Fixed IP addresses to register as targets (empty when ECS registers the targets)."
  type        = list(string)
  default     = []
}

variable "ip_target_count" {
  description = "Number of ip_targets (known at plan time even when the addresses are not)."
  type        = number
  default     = 0
}

variable "deletion_protection" {
  description = "Protect the load balancer against deletion."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
