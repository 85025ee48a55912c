variable "domain_name" {
  description = "The platform's domain (the API is api.<domain_name>)."
  type        = string
}

variable "create" {
  description = "Create the hosted zone (true) or adopt an existing public zone of that name (false)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
