variable "topic_name" {
  description = "Name of the region's sales events topic (the stream publisher publishes every event of this region to it)."
  type        = string
  default     = "sales-events"
}

variable "queue_name" {
  description = "Name of the region's processing queue (consumed by the sales worker)."
  type        = string
  default     = "sales-processing"
}

variable "dlq_name" {
  description = "Name of the processing queue's dead-letter queue."
  type        = string
  default     = "sales-processing-dlq"
}

variable "publisher_regions" {
  description = "Regions whose topic (same name, same account) may send to this region's processing queue: every region of the deployment, this one included. Cross-region subscriptions themselves live in the global layer."
  type        = list(string)
}

variable "subscribed_event_types" {
  description = "event_type values the processing queue receives."
  type        = list(string)
  default     = ["SaleCreated", "SaleCancelled"]
}

variable "processing_budget_seconds" {
  description = "Longest time the worker may spend on one message before it must have extended the message's visibility (heartbeat). The visibility timeout is derived from it."
  type        = number
  default     = 30

  validation {
    condition     = var.processing_budget_seconds >= 1 && var.processing_budget_seconds <= 21600
    error_message = "The processing budget must be between 1 second and 6 hours (twice it must fit SQS's 12-hour visibility limit)."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5
}

variable "message_retention_seconds" {
  description = "How long the processing queue keeps a message. Long, because a PASSIVE region keeps its events queued until a failover."
  type        = number
  default     = 1209600
}

variable "dlq_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (SQS's maximum, 14 days, so an operator has time to redrive)."
  type        = number
  default     = 1209600
}

variable "redrive_allow_policy_enabled" {
  description = "Restrict the dead-letter queue to this region's processing queue as its only source (redrive allow policy). Off only where the API is missing (moto hangs on it)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the messaging key is deleted after a destroy."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
