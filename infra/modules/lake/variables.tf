variable "name" {
  description = "Bucket name, e.g. sales-lake-<env>-<region>; see append_account_id."
  type        = string
}

variable "append_account_id" {
  description = "Append -<account id> to the name (bucket names are global across all AWS accounts)."
  type        = bool
  default     = false
}

variable "deny_insecure_transport" {
  description = "Deny every request not made over TLS (aws:SecureTransport). Off only against a local emulator, which is reached over plain HTTP on loopback."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let a destroy delete a bucket that still holds objects. Only for throw-away environments."
  type        = bool
  default     = false
}

variable "transition_to_ia_days" {
  description = "Days after which current objects move to STANDARD_IA (the lake is written once and read rarely)."
  type        = number
  default     = 30
}

variable "transition_to_glacier_ir_days" {
  description = "Days after which current objects move to GLACIER_IR (millisecond reads, cheaper storage)."
  type        = number
  default     = 180
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a replaced or deleted object version is removed (versioning protects against mistakes, not forever)."
  type        = number
  default     = 90
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which unfinished multipart uploads are aborted."
  type        = number
  default     = 7
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the lake key is deleted after a destroy."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
