variable "alarm_topic_name" {
  description = "SNS topic that receives every alarm of this region (subscribe the on-call endpoint to it)."
  type        = string
  default     = "sales-alarms"
}

variable "processing_queue_name" {
  description = "Processing queue watched for the age of its oldest message."
  type        = string
}

variable "processing_dlq_name" {
  description = "Dead-letter queue of the processing queue: any message in it is an alarm."
  type        = string
}

variable "publisher_failure_queue_name" {
  description = "Stream publisher's failure queue: any message in it is an alarm (a batch was given up on)."
  type        = string
}

variable "publisher_function_name" {
  description = "Stream publisher function watched for errors and iterator age."
  type        = string
}

variable "oldest_message_age_threshold_seconds" {
  description = "Age of the oldest processing message that raises the alarm (the worker is behind or down)."
  type        = number
  default     = 300
}

variable "iterator_age_threshold_ms" {
  description = "Stream iterator age that raises the alarm (the publisher is behind the event store)."
  type        = number
  default     = 60000
}

variable "publisher_error_threshold" {
  description = "Function errors per 5 minutes that raise the alarm."
  type        = number
  default     = 1
}

variable "evaluation_periods" {
  description = "Consecutive 1-minute periods over the threshold before an alarm fires."
  type        = number
  default     = 3
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the alarm topic's key is deleted after a destroy."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
