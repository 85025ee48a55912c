variable "name" {
  description = "Name of the cluster."
  type        = string
  default     = "sales"
}

variable "container_insights" {
  description = "Container Insights level: enhanced, enabled or disabled (the worker's queue-depth scaling reads RunningTaskCount from it)."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enhanced", "enabled", "disabled"], var.container_insights)
    error_message = "container_insights must be enhanced, enabled or disabled."
  }
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
