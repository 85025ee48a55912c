variable "name" {
  description = "SSM parameter holding this region's state (SSM_PARAMETER_STORE_STATE of the services)."
  type        = string
  default     = "/sales/region-state"
}

variable "initial_state" {
  description = "State the parameter is created with. Only the first apply sets it: afterwards the failover command owns the value."
  type        = string
  default     = "ACTIVE"

  validation {
    condition     = contains(["ACTIVE", "PASSIVE"], var.initial_state)
    error_message = "The region state is ACTIVE or PASSIVE."
  }
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
