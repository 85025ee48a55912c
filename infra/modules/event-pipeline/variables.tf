variable "topic_name" {
  description = "Name of the region's sales events topic."
  type        = string
  default     = "sales-events"
}

variable "queue_name" {
  description = "Name of the region's processing queue."
  type        = string
  default     = "sales-processing"
}

variable "dlq_name" {
  description = "Name of the processing queue's dead-letter queue."
  type        = string
  default     = "sales-processing-dlq"
}

variable "publisher_regions" {
  description = "Every region of the deployment: their topics may send to this region's processing queue."
  type        = list(string)
}

variable "processing_budget_seconds" {
  description = "The worker's processing budget per message; the visibility timeout derives from it."
  type        = number
  default     = 30
}

variable "max_receive_count" {
  description = "Deliveries of a message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "redrive_allow_policy_enabled" {
  description = "Restrict the dead-letter queue to its processing queue (off only where the API is missing)."
  type        = bool
  default     = true
}

variable "function_name" {
  description = "Name of the stream publisher function."
  type        = string
  default     = "sales-stream-publisher"
}

variable "package_path" {
  description = "Stream publisher deployment package (the zip built by `task build:lambda`)."
  type        = string
}

variable "event_table_arn" {
  description = "Event store table ARN in this region."
  type        = string
}

variable "event_stream_arn" {
  description = "Event store stream ARN in this region."
  type        = string
}

variable "failure_queue_name" {
  description = "Stream publisher's on-failure destination queue."
  type        = string
  default     = "sales-stream-publisher-dlq"
}

variable "event_source_mapping_enabled" {
  description = "Create the stream's event source mapping (off only where the emulator cannot run Lambda; see the stream-publisher module)."
  type        = bool
  default     = true
}

variable "alarm_topic_name" {
  description = "SNS topic receiving the region's alarms."
  type        = string
  default     = "sales-alarms"
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the pipeline's keys are deleted after a destroy."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
