variable "function_name" {
  description = "Name of the stream publisher Lambda function."
  type        = string
  default     = "sales-stream-publisher"
}

variable "package_path" {
  description = "Deployment package: the zip built by `task build:lambda` (a `bootstrap` executable for provided.al2023 on arm64)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the event table in this region (the replica's ARN in a replica region)."
  type        = string
}

variable "stream_arn" {
  description = "ARN of the event table's stream in this region: the mapping reads it, the role may read only it."
  type        = string
}

variable "topic_arn" {
  description = "Region's sales events topic (SNS_SALES_PROCESSING_TOPIC): the only topic the role may publish to."
  type        = string
}

variable "messaging_kms_key_arn" {
  description = "Key encrypting the topic (publishing needs kms:GenerateDataKey on it); it also encrypts the failure queue."
  type        = string
}

variable "failure_queue_name" {
  description = "SQS queue that receives the metadata (shard, sequence numbers) of batches the mapping gave up on."
  type        = string
  default     = "sales-stream-publisher-dlq"
}

variable "environment" {
  description = "Extra environment variables of the function (SNS_SALES_PROCESSING_TOPIC is always set from topic_arn)."
  type        = map(string)
  default     = {}
}

variable "memory_mb" {
  description = "Memory of the function (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Timeout of one invocation (a batch of up to batch_size records, published 10 per PublishBatch call)."
  type        = number
  default     = 30
}

variable "batch_size" {
  description = "Stream records per invocation."
  type        = number
  default     = 100
}

variable "maximum_batching_window_seconds" {
  description = "How long the mapping may wait to fill a batch (latency against invocations)."
  type        = number
  default     = 1
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (order is still kept per partition key, i.e. per sale)."
  type        = number
  default     = 2

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10
    error_message = "The parallelization factor is between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch (after bisecting) before its metadata goes to the failure queue."
  type        = number
  default     = 10
}

variable "maximum_record_age_seconds" {
  description = "Records older than this are not retried but sent to the failure queue (an operator then replays them from the event store)."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_record_age_seconds == -1 || (var.maximum_record_age_seconds >= 60 && var.maximum_record_age_seconds <= 604800)
    error_message = "Maximum record age is -1 (forever) or 60..604800 seconds."
  }
}

variable "event_source_mapping_enabled" {
  description = "Create the stream's event source mapping. Off only against an emulator that cannot run Lambda: moto runs a mapping's function in Docker on every table write and, without Docker, empties the stream shard, starving the local runner that stands in for the mapping."
  type        = bool
  default     = true
}

variable "starting_position" {
  description = "Where a new mapping starts reading: TRIM_HORIZON, so events written between the table's and the mapping's creation are published too."
  type        = string
  default     = "TRIM_HORIZON"
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
