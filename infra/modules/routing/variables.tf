variable "name" {
  description = "Name of the accelerator."
  type        = string
  default     = "sales"
}

variable "regions" {
  description = "One endpoint group per region: its endpoint (the region's edge load balancer ARN, \"\" while the region has none yet) and the dial it starts with (100 = on, 0 = off)."
  type = map(object({
    endpoint_arn         = string
    initial_traffic_dial = number
  }))

  validation {
    condition     = alltrue([for r in values(var.regions) : r.initial_traffic_dial >= 0 && r.initial_traffic_dial <= 100])
    error_message = "initial_traffic_dial must be between 0 and 100."
  }
}

variable "client_ip_preservation" {
  description = "Endpoints see the client's address (the API's WAF rate rule counts per client)."
  type        = bool
  default     = true
}

variable "zone_id" {
  description = "Route 53 zone of the API's name (\"\" for no record)."
  type        = string
  default     = ""
}

variable "record_name" {
  description = "The API's name in that zone (e.g. api.example.com)."
  type        = string
  default     = ""
}

variable "operator_role_names" {
  description = "Roles that may move the traffic dials (the operator role)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
