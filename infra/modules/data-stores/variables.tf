variable "event_table_name" {
  description = "Name of the event store table."
  type        = string
  default     = "sales-events"
}

variable "idempotency_table_name" {
  description = "Name of the worker's idempotency table."
  type        = string
  default     = "sales-idempotency"
}

variable "create_tables" {
  description = "Create both tables in this region (true: a regional deployment, or an emulator without global tables), or read the replicas that the global layer's global tables put here (false)."
  type        = bool
  default     = true
}

variable "lake_name" {
  description = "Lake bucket name (sales-lake-<env>-<region>)."
  type        = string
}

variable "lake_append_account_id" {
  description = "Append -<account id> to the lake bucket name (bucket names are global across all AWS accounts)."
  type        = bool
  default     = false
}

variable "region_state_parameter" {
  description = "SSM parameter holding the region's ACTIVE/PASSIVE state."
  type        = string
  default     = "/sales/region-state"
}

variable "initial_region_state" {
  description = "State the region starts in (only the first apply sets it)."
  type        = string
  default     = "ACTIVE"
}

variable "deletion_protection" {
  description = "Protect the tables against deletion (off only for throw-away environments)."
  type        = bool
  default     = true
}

variable "lake_deny_insecure_transport" {
  description = "Deny non-TLS requests to the lake bucket (off only against a local emulator reached over HTTP)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let a destroy delete a lake bucket that still holds objects (throw-away environments only)."
  type        = bool
  default     = false
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
