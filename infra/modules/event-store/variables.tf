variable "name" {
  description = "Name of the event table (the same in every region: a global table keeps one name)."
  type        = string
  default     = "sales-events"
}

variable "create_table" {
  description = "Create the table here (true), or look up a table that already exists in this provider's region (false), e.g. the replica that the global layer created. The stream ARN is exposed either way."
  type        = bool
  default     = true
}

variable "replica_regions" {
  description = "Regions that get a replica (global tables version 2019.11.21). Empty for a regional table, e.g. against an emulator that cannot replicate."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for encryption at rest; null uses the AWS managed key (aws/dynamodb), which every replica region has without extra keys."
  type        = string
  default     = null
}

variable "replica_kms_key_arns" {
  description = "Customer managed KMS key per replica region (a key is regional); regions left out use the AWS managed key."
  type        = map(string)
  default     = {}
}

variable "ttl_attribute" {
  description = "Item attribute holding an expiry epoch. Events never carry it (they are kept forever); it is there for snapshots or tombstones that may expire."
  type        = string
  default     = "expires_at"
}

variable "point_in_time_recovery" {
  description = "Continuous backups (35 days of point-in-time restore)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse DeleteTable. On for real environments; off where the stack is thrown away (local)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
