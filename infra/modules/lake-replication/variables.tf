variable "source_bucket_name" {
  description = "Lake bucket whose new objects are replicated (in this provider's region)."
  type        = string
}

variable "source_kms_key_arn" {
  description = "Key encrypting the source bucket (replication decrypts with it)."
  type        = string
}

variable "destinations" {
  description = "Lake buckets that receive copies, by region: the bucket's ARN and the key that encrypts it in its own region."
  type = map(object({
    bucket_arn  = string
    kms_key_arn = string
  }))

  validation {
    condition     = length(var.destinations) > 0
    error_message = "Replication needs at least one destination."
  }
}

variable "replicate_deletes" {
  description = "Replicate delete markers. Off: the lake is append-only, and a delete in one region must not erase the other region's copy."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
