variable "name" {
  description = "Name of the service, its task family, container, roles and log group."
  type        = string
}

variable "cluster_arn" {
  description = "Cluster the service runs in."
  type        = string
}

variable "cluster_name" {
  description = "Name of that cluster (autoscaling resource id, Container Insights dimension)."
  type        = string
}

variable "repository_name" {
  description = "ECR repository of the image in this account and region."
  type        = string
}

variable "image_tag" {
  description = "Immutable tag of the image to run (the commit the pipeline built)."
  type        = string

  validation {
    condition     = length(var.image_tag) > 0
    error_message = "image_tag must not be empty."
  }
}

variable "cpu" {
  description = "Task CPU units (256 = a quarter vCPU)."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 512
}

variable "container_port" {
  description = "Port the container listens on (its PORT)."
  type        = number
  default     = 8080
}

variable "environment" {
  description = "Environment variables of the container."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Secret environment variables: name -> ARN of the SSM parameter holding the value (read by the execution role only)."
  type        = map(string)
  default     = {}
}

variable "secrets_kms_key_arn" {
  description = "Key encrypting the SecureString secrets, if not the AWS managed one."
  type        = string
  default     = ""
}

variable "health_check_command" {
  description = "Container health check command (exec form, the image has no shell)."
  type        = list(string)
  default     = ["CMD", "/healthprobe"]
}

variable "stop_timeout_seconds" {
  description = "Seconds between SIGTERM and SIGKILL; covers the service's graceful shutdown (at most 120 on Fargate)."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout_seconds >= 2 && var.stop_timeout_seconds <= 120
    error_message = "stop_timeout_seconds must be between 2 and 120 (Fargate's limit)."
  }
}

variable "task_policy_json" {
  description = "IAM policy document of the task role: exactly the calls the application makes, on its own resources."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the tasks."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's CIDR block (egress to the interface endpoints)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks, one per zone (the service spreads over them)."
  type        = list(string)
}

variable "ingress_security_group_ids" {
  description = "Security groups allowed to reach the container port, by a label (e.g. {nlb = sg-...})."
  type        = map(string)
  default     = {}
}

variable "egress_prefix_list_ids" {
  description = "Gateway endpoint prefix lists the tasks may reach on 443, by service (e.g. {dynamodb = pl-..., s3 = pl-...})."
  type        = map(string)
  default     = {}
}

variable "target_group_arn" {
  description = "Target group the tasks register in, or \"\" for a service without a load balancer."
  type        = string
  default     = ""
}

variable "health_check_grace_period_seconds" {
  description = "Load balancer health checks ignored for this long after a task starts."
  type        = number
  default     = 30
}

variable "capacity_provider_strategy" {
  description = "Capacity providers and their share (FARGATE for on-demand, FARGATE_SPOT for interruptible work)."
  type = list(object({
    capacity_provider = string
    base              = number
    weight            = number
  }))
  default = [{ capacity_provider = "FARGATE", base = 1, weight = 1 }]
}

variable "wait_for_steady_state" {
  description = "Make apply wait until the deployment is stable (the pipeline's health gate)."
  type        = bool
  default     = false
}

variable "min_capacity" {
  description = "Fewest running tasks (also the initial desired count)."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Most running tasks autoscaling may start."
  type        = number
  default     = 10
}

variable "autoscaling_enabled" {
  description = "Create the autoscaling target and policies (off only where the emulator lacks Application Auto Scaling)."
  type        = bool
  default     = true
}

variable "cpu_target_percent" {
  description = "Target tracking on average CPU (percent), or null for none."
  type        = number
  default     = null
}

variable "queue_backlog_target" {
  description = "Target tracking on visible messages per running task of an SQS queue, or null for none."
  type = object({
    queue_name        = string
    messages_per_task = number
  })
  default = null
}

variable "log_kms_key_arn" {
  description = "Key encrypting the service's log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service's logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
