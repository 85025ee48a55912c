variable "region" {
  description = "The region this layer runs in (AWS_REGION of the services)."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster."
  type        = string
  default     = "sales"
}

variable "container_insights" {
  description = "Container Insights level of the cluster."
  type        = string
  default     = "enabled"
}

variable "api_name" {
  description = "Name of the API's service, load balancer and REST API."
  type        = string
  default     = "sales-api"
}

variable "worker_name" {
  description = "Name of the worker's service."
  type        = string
  default     = "sales-worker"
}

variable "api_repository_name" {
  description = "ECR repository of the API image."
  type        = string
  default     = "sales-api"
}

variable "worker_repository_name" {
  description = "ECR repository of the worker image."
  type        = string
  default     = "sales-worker"
}

variable "image_tag" {
  description = "Immutable image tag both services run (the commit the pipeline built)."
  type        = string
}

variable "container_port" {
  description = "Port both services listen on (PORT)."
  type        = number
  default     = 8080
}

variable "vpc_id" {
  description = "The region's VPC."
  type        = string
}

variable "vpc_cidr_block" {
  description = "The VPC's CIDR block."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (tasks, internal load balancer, execute-api endpoint)."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Public subnets (the internet-facing edge load balancer)."
  type        = list(string)
}

variable "gateway_prefix_list_ids" {
  description = "Prefix lists of the DynamoDB and S3 gateway endpoints, by service."
  type        = map(string)
}

variable "log_kms_key_arn" {
  description = "Key encrypting the region's log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the services' and the API's logs."
  type        = number
  default     = 30
}

variable "event_table_name" {
  description = "Event store table (DYNAMO_SALES_TABLE)."
  type        = string
}

variable "event_table_arn" {
  description = "Event store table ARN in this region."
  type        = string
}

variable "idempotency_table_name" {
  description = "Idempotency table (DYNAMO_SALES_IDEMPOTENCY_TABLE)."
  type        = string
}

variable "idempotency_table_arn" {
  description = "Idempotency table ARN in this region."
  type        = string
}

variable "lake_bucket_name" {
  description = "Lake bucket (S3_SALES_BUCKET)."
  type        = string
}

variable "lake_bucket_arn" {
  description = "Lake bucket ARN."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "Key encrypting the lake (the worker encrypts what it writes)."
  type        = string
}

variable "region_state_parameter_name" {
  description = "Region state parameter (SSM_PARAMETER_STORE_STATE)."
  type        = string
}

variable "region_state_parameter_arn" {
  description = "Region state parameter ARN (read-only for both services)."
  type        = string
}

variable "processing_queue_name" {
  description = "Processing queue name (the worker's scaling metric)."
  type        = string
}

variable "processing_queue_url" {
  description = "Processing queue URL (SQS_SALES_QUEUE)."
  type        = string
}

variable "processing_queue_arn" {
  description = "Processing queue ARN."
  type        = string
}

variable "processing_dlq_url" {
  description = "Processing dead-letter queue URL (SQS_SALES_DLQ)."
  type        = string
}

variable "processing_dlq_arn" {
  description = "Processing dead-letter queue ARN."
  type        = string
}

variable "messaging_kms_key_arn" {
  description = "Key encrypting the queues."
  type        = string
}

variable "api_cpu" {
  description = "API task CPU units."
  type        = number
  default     = 512
}

variable "api_memory" {
  description = "API task memory (MiB)."
  type        = number
  default     = 1024
}

variable "api_min_tasks" {
  description = "Fewest API tasks in this region."
  type        = number
  default     = 2
}

variable "api_max_tasks" {
  description = "Most API tasks in this region."
  type        = number
  default     = 10
}

variable "api_cpu_target_percent" {
  description = "Average CPU the API's target tracking holds."
  type        = number
  default     = 60
}

variable "api_shutdown_delay_seconds" {
  description = "SHUTDOWN_DELAY of the API: it keeps serving this long after SIGTERM."
  type        = number
  default     = 5
}

variable "api_shutdown_timeout_seconds" {
  description = "SHUTDOWN_TIMEOUT of the API: in-flight requests finish within it."
  type        = number
  default     = 20
}

variable "api_extra_environment" {
  description = "More environment variables of the API."
  type        = map(string)
  default     = {}
}

variable "worker_cpu" {
  description = "Worker task CPU units."
  type        = number
  default     = 256
}

variable "worker_memory" {
  description = "Worker task memory (MiB)."
  type        = number
  default     = 512
}

variable "worker_min_tasks" {
  description = "Fewest worker tasks in this region."
  type        = number
  default     = 1
}

variable "worker_max_tasks" {
  description = "Most worker tasks in this region."
  type        = number
  default     = 10
}

variable "worker_backlog_per_task" {
  description = "Visible messages per worker task the queue-depth target tracking holds."
  type        = number
  default     = 200
}

variable "worker_consumer_threads" {
  description = "CONSUMER_THREADS of the worker."
  type        = number
  default     = 2
}

variable "worker_stop_timeout_seconds" {
  description = "STOP_TIMEOUT of the worker (its drain bound after SIGTERM)."
  type        = number
  default     = 25
}

variable "worker_extra_environment" {
  description = "More environment variables of the worker."
  type        = map(string)
  default     = {}
}

variable "autoscaling_enabled" {
  description = "Autoscaling of both services (off only where the emulator lacks Application Auto Scaling)."
  type        = bool
  default     = true
}

variable "wait_for_steady_state" {
  description = "Apply waits until both services' deployments are stable (the pipeline's health gate)."
  type        = bool
  default     = false
}

variable "throttling_rate_limit" {
  description = "Steady requests per second the API stage admits."
  type        = number
  default     = 500
}

variable "throttling_burst_limit" {
  description = "Burst the API stage admits."
  type        = number
  default     = 1000
}

variable "waf_rate_limit_per_5_minutes" {
  description = "Requests per client address per 5 minutes before WAF blocks it."
  type        = number
  default     = 3000
}

variable "jwt_user_pool_arns" {
  description = "Cognito user pools whose JWTs the API requires (empty: off)."
  type        = list(string)
  default     = []
}

variable "manage_account_logging_role" {
  description = "Create the region's account-wide API Gateway logging role."
  type        = bool
  default     = true
}

variable "api_resource_policy_enabled" {
  description = "Attach the private API's resource policy (off only where an emulator cannot store it)."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Custom domain of the API (the same in every region)."
  type        = string
  default     = ""
}

variable "zone_id" {
  description = "Route 53 zone of the domain (certificate validation)."
  type        = string
  default     = ""
}

variable "certificate_enabled" {
  description = "Request and validate the region's certificate for domain_name."
  type        = bool
  default     = true
}

variable "custom_domain_enabled" {
  description = "Serve the API under domain_name."
  type        = bool
  default     = true
}

variable "edge_enabled" {
  description = "Create the edge load balancer (Global Accelerator's endpoint in this region)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the load balancers against deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags (the provider adds the default tags)."
  type        = map(string)
  default     = {}
}
