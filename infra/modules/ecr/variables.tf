variable "repository_names" {
  description = "Repositories to create (one per service image)."
  type        = list(string)
  default     = ["sales-api", "sales-worker"]
}

variable "replication_regions" {
  description = "Regions this registry replicates the repositories to (set in the home region only; empty elsewhere)."
  type        = list(string)
  default     = []
}

variable "keep_tagged_images" {
  description = "Images kept per repository; older ones expire."
  type        = number
  default     = 50
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Let a destroy delete repositories that still hold images (throw-away environments only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
