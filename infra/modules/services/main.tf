# The compute and edge layer of one region, deployed together as the
# regional `services` unit: the ECS cluster, the API behind its internal
# load balancer and the private REST API, and the worker. Its inputs are the
# network's and the data path's outputs; the task roles are written here,
# where the resources they may touch are known
# (docs/adr/0061-compute-units-and-least-privilege.md).

locals {
  # The API's graceful shutdown (SHUTDOWN_DELAY, then SHUTDOWN_TIMEOUT for
  # in-flight requests) must fit inside the load balancer's deregistration
  # delay, and ECS's stop timeout must outlast both.
  api_deregistration_delay = var.api_shutdown_delay_seconds + var.api_shutdown_timeout_seconds
  api_stop_timeout         = var.api_shutdown_delay_seconds + var.api_shutdown_timeout_seconds + 5
  # The worker drains within STOP_TIMEOUT; ECS kills 5 s later.
  worker_stop_timeout = var.worker_stop_timeout_seconds + 5

  # What the worker writes: records, reprocessing generations and the
  # conflict records of operations two regions wrote as two versions.
  lake_prefixes = ["sales", "cancellations", "reprocess", "conflicts"]
}

module "cluster" {
  source = "../ecs-cluster"

  name               = var.cluster_name
  container_insights = var.container_insights
  tags               = var.tags
}

module "api_lb" {
  source = "../load-balancer"

  name                         = var.api_name
  internal                     = true
  vpc_id                       = var.vpc_id
  vpc_cidr_block               = var.vpc_cidr_block
  subnet_ids                   = var.private_subnet_ids
  ingress_cidr_blocks          = [var.vpc_cidr_block]
  listener_port                = 80
  target_port                  = var.container_port
  health_check_path            = "/healthcheck"
  deregistration_delay_seconds = local.api_deregistration_delay
  deletion_protection          = var.deletion_protection
  tags                         = var.tags
}

# --- The API: appends events and reads them, reads its region's state ------

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "AppendAndReadEvents"
    actions   = ["dynamodb:PutItem", "dynamodb:Query"]
    resources = [var.event_table_arn]
  }

  statement {
    sid       = "ReadRegionState"
    actions   = ["ssm:GetParameter"]
    resources = [var.region_state_parameter_arn]
  }
}

module "api" {
  source = "../ecs-service"

  name             = var.api_name
  cluster_arn      = module.cluster.cluster_arn
  cluster_name     = module.cluster.cluster_name
  repository_name  = var.api_repository_name
  image_tag        = var.image_tag
  cpu              = var.api_cpu
  memory           = var.api_memory
  container_port   = var.container_port
  task_policy_json = data.aws_iam_policy_document.api.json
  environment = merge({
    AWS_REGION                = var.region
    DYNAMO_SALES_TABLE        = var.event_table_name
    SSM_PARAMETER_STORE_STATE = var.region_state_parameter_name
    PORT                      = tostring(var.container_port)
    SHUTDOWN_DELAY            = "${var.api_shutdown_delay_seconds}s"
    SHUTDOWN_TIMEOUT          = "${var.api_shutdown_timeout_seconds}s"
    LOG_LEVEL                 = "info"
  }, var.api_extra_environment)
  stop_timeout_seconds       = local.api_stop_timeout
  vpc_id                     = var.vpc_id
  vpc_cidr_block             = var.vpc_cidr_block
  subnet_ids                 = var.private_subnet_ids
  ingress_security_group_ids = { nlb = module.api_lb.security_group_id }
  egress_prefix_list_ids     = { dynamodb = var.gateway_prefix_list_ids["dynamodb"], s3 = var.gateway_prefix_list_ids["s3"] }
  target_group_arn           = module.api_lb.target_group_arn
  capacity_provider_strategy = [{ capacity_provider = "FARGATE", base = 1, weight = 1 }]
  wait_for_steady_state      = var.wait_for_steady_state
  min_capacity               = var.api_min_tasks
  max_capacity               = var.api_max_tasks
  autoscaling_enabled        = var.autoscaling_enabled
  cpu_target_percent         = var.api_cpu_target_percent
  log_kms_key_arn            = var.log_kms_key_arn
  log_retention_days         = var.log_retention_days
  tags                       = var.tags
}

module "api_gateway" {
  source = "../api-gateway"

  name                         = var.api_name
  vpc_id                       = var.vpc_id
  vpc_cidr_block               = var.vpc_cidr_block
  subnet_ids                   = var.private_subnet_ids
  endpoint_ingress_cidr_blocks = var.edge_enabled ? ["0.0.0.0/0"] : [var.vpc_cidr_block]
  resource_policy_enabled      = var.api_resource_policy_enabled
  integration_lb_arn           = module.api_lb.lb_arn
  integration_lb_dns_name      = module.api_lb.lb_dns_name
  integration_port             = 80
  throttling_rate_limit        = var.throttling_rate_limit
  throttling_burst_limit       = var.throttling_burst_limit
  waf_rate_limit_per_5_minutes = var.waf_rate_limit_per_5_minutes
  jwt_user_pool_arns           = var.jwt_user_pool_arns
  log_kms_key_arn              = var.log_kms_key_arn
  access_log_retention_days    = var.log_retention_days
  manage_account_logging_role  = var.manage_account_logging_role
  domain_name                  = var.domain_name
  zone_id                      = var.zone_id
  certificate_enabled          = var.certificate_enabled
  custom_domain_enabled        = var.custom_domain_enabled
  edge_enabled                 = var.edge_enabled
  edge_internal                = false
  edge_subnet_ids              = var.public_subnet_ids
  deletion_protection          = var.deletion_protection
  tags                         = var.tags
}

# --- The worker: its queue, its tables, its lake prefixes, its state -------

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ConsumeProcessingQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [var.processing_queue_arn]
  }

  statement {
    sid       = "SendPoisonToDeadLetterQueue"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [var.processing_dlq_arn]
  }

  statement {
    sid       = "UseMessagingKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.messaging_kms_key_arn]
  }

  # Claims: conditional put, update, release, batch reads; the completion
  # transaction updates the claim (UpdateItem) and appends SaleProcessed
  # (PutItem) with conditions on both (ConditionCheckItem).
  statement {
    sid = "ClaimEvents"
    actions = [
      "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
      "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem",
    ]
    resources = [var.idempotency_table_arn]
  }

  # SaleProcessed in the completion transaction; the merge of two
  # versions of one operation is a conditional put (ALL_OLD on failure).
  statement {
    sid       = "AppendSaleProcessed"
    actions   = ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    resources = [var.event_table_arn]
  }

  # Conditional puts; a duplicate reads the object to compare versions.
  statement {
    sid       = "WriteLakePrefixes"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = [for p in local.lake_prefixes : "${var.lake_bucket_arn}/${p}/*"]
  }

  statement {
    sid       = "EncryptLakeObjects"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.lake_kms_key_arn]
  }

  statement {
    sid       = "ReadRegionState"
    actions   = ["ssm:GetParameter"]
    resources = [var.region_state_parameter_arn]
  }
}

module "worker" {
  source = "../ecs-service"

  name             = var.worker_name
  cluster_arn      = module.cluster.cluster_arn
  cluster_name     = module.cluster.cluster_name
  repository_name  = var.worker_repository_name
  image_tag        = var.image_tag
  cpu              = var.worker_cpu
  memory           = var.worker_memory
  container_port   = var.container_port
  task_policy_json = data.aws_iam_policy_document.worker.json
  environment = merge({
    AWS_REGION                     = var.region
    SQS_SALES_QUEUE                = var.processing_queue_url
    SQS_SALES_DLQ                  = var.processing_dlq_url
    SSM_PARAMETER_STORE_STATE      = var.region_state_parameter_name
    DYNAMO_SALES_TABLE             = var.event_table_name
    DYNAMO_SALES_IDEMPOTENCY_TABLE = var.idempotency_table_name
    S3_SALES_BUCKET                = var.lake_bucket_name
    PORT                           = tostring(var.container_port)
    CONSUMER_THREADS               = tostring(var.worker_consumer_threads)
    STOP_TIMEOUT                   = "${var.worker_stop_timeout_seconds}s"
    LOG_LEVEL                      = "info"
  }, var.worker_extra_environment)
  stop_timeout_seconds   = local.worker_stop_timeout
  vpc_id                 = var.vpc_id
  vpc_cidr_block         = var.vpc_cidr_block
  subnet_ids             = var.private_subnet_ids
  egress_prefix_list_ids = { dynamodb = var.gateway_prefix_list_ids["dynamodb"], s3 = var.gateway_prefix_list_ids["s3"] }
  # Interruptible capacity takes most of the work: a Spot interruption is a
  # SIGTERM, and the worker drains within its stop timeout.
  capacity_provider_strategy = [
    { capacity_provider = "FARGATE", base = 1, weight = 1 },
    { capacity_provider = "FARGATE_SPOT", base = 0, weight = 3 },
  ]
  wait_for_steady_state = var.wait_for_steady_state
  min_capacity          = var.worker_min_tasks
  max_capacity          = var.worker_max_tasks
  autoscaling_enabled   = var.autoscaling_enabled
  queue_backlog_target = {
    queue_name        = var.processing_queue_name
    messages_per_task = var.worker_backlog_per_task
  }
  log_kms_key_arn    = var.log_kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}
