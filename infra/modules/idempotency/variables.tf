variable "name" {
  description = "Name of the sales worker's idempotency table (the same in every region: it is a global table)."
  type        = string
  default     = "sales-idempotency"
}

variable "create_table" {
  description = "Create the table here (true), or look up the replica that already exists in this provider's region (false)."
  type        = bool
  default     = true
}

variable "replica_regions" {
  description = "Regions that get a replica (global tables version 2019.11.21), so a claim made in one region is seen by the other's worker. Empty for a regional table."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for encryption at rest; null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "replica_kms_key_arns" {
  description = "Customer managed KMS key per replica region; regions left out use the AWS managed key."
  type        = map(string)
  default     = {}
}

variable "ttl_attribute" {
  description = "Attribute holding the claim's expiry (epoch seconds); DynamoDB deletes expired claims."
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
