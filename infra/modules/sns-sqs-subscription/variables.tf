variable "topic_arn" {
  description = "SNS topic the queues subscribe to. The provider of this module must be the topic's region: SNS creates a subscription in the topic's region."
  type        = string
}

variable "queue_arns" {
  description = "SQS queues to subscribe, by a stable label (for example the queue's region), so adding one never replaces another."
  type        = map(string)
}

variable "event_types" {
  description = "Values of the event_type message attribute that reach the queues (the filter policy)."
  type        = list(string)
  default     = ["SaleCreated", "SaleCancelled"]

  validation {
    condition     = length(var.event_types) > 0
    error_message = "At least one event type must pass the filter, or the subscription delivers nothing."
  }
}
