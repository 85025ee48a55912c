# Shared definition of the regional services unit: ECS cluster, the API
# (internal load balancer, private REST API, WAF, custom domain, edge load
# balancer) and the worker (infra/modules/services). Reads the network, the
# data path and the global foundation (hosted zone); mock outputs serve
# validate and plan only.
locals {
  env      = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
  env_dir  = dirname(find_in_parent_folders("env.hcl"))
  region   = read_terragrunt_config(find_in_parent_folders("region.hcl")).locals
  features = local.env.features

  # Per-region task counts: region.hcl may set `capacity = { api_min = 4 }`.
  capacity = merge({ api_min = 2, api_max = 10, worker_min = 1, worker_max = 10 }, try(local.region.capacity, {}))
}

terraform {
  source = "${get_repo_root()}/infra/modules//services"
}

dependency "network" {
  config_path = "../network"

  skip_outputs = get_terraform_command() == "validate"
  mock_outputs = {
    vpc_id                  = "vpc-00000000000000000"
    vpc_cidr_block          = local.region.vpc_cidr
    private_subnet_ids      = ["subnet-00000000000000001", "subnet-00000000000000002", "subnet-00000000000000003"]
    public_subnet_ids       = ["subnet-00000000000000004", "subnet-00000000000000005", "subnet-00000000000000006"]
    gateway_prefix_list_ids = { dynamodb = "pl-00000001", s3 = "pl-00000002" }
    logs_kms_key_arn        = "arn:aws:kms:${local.region.region}:000000000000:key/00000000-0000-0000-0000-000000000000"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

dependency "data_stores" {
  config_path = "../data-stores"

  skip_outputs = get_terraform_command() == "validate"
  mock_outputs = {
    event_table_name            = "sales-events"
    event_table_arn             = "arn:aws:dynamodb:${local.region.region}:000000000000:table/sales-events"
    idempotency_table_name      = "sales-idempotency"
    idempotency_table_arn       = "arn:aws:dynamodb:${local.region.region}:000000000000:table/sales-idempotency"
    lake_bucket_name            = "sales-lake-mock"
    lake_bucket_arn             = "arn:aws:s3:::sales-lake-mock"
    lake_kms_key_arn            = "arn:aws:kms:${local.region.region}:000000000000:key/00000000-0000-0000-0000-000000000001"
    region_state_parameter_name = "/sales/region-state"
    region_state_parameter_arn  = "arn:aws:ssm:${local.region.region}:000000000000:parameter/sales/region-state"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

dependency "event_pipeline" {
  config_path = "../event-pipeline"

  skip_outputs = get_terraform_command() == "validate"
  mock_outputs = {
    processing_queue_url  = "https://sqs.${local.region.region}.amazonaws.com/000000000000/sales-processing"
    processing_queue_arn  = "arn:aws:sqs:${local.region.region}:000000000000:sales-processing"
    processing_dlq_url    = "https://sqs.${local.region.region}.amazonaws.com/000000000000/sales-processing-dlq"
    processing_dlq_arn    = "arn:aws:sqs:${local.region.region}:000000000000:sales-processing-dlq"
    messaging_kms_key_arn = "arn:aws:kms:${local.region.region}:000000000000:key/00000000-0000-0000-0000-000000000002"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

# The hosted zone (certificate validation) and the image repositories.
dependency "foundation" {
  config_path = "${local.env_dir}/_global/foundation"

  skip_outputs = get_terraform_command() == "validate"
  mock_outputs = {
    zone_id = "Z0000000000000000000"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

inputs = {
  region                  = local.region.region
  image_tag               = local.env.image_tag
  vpc_id                  = dependency.network.outputs.vpc_id
  vpc_cidr_block          = dependency.network.outputs.vpc_cidr_block
  private_subnet_ids      = dependency.network.outputs.private_subnet_ids
  public_subnet_ids       = dependency.network.outputs.public_subnet_ids
  gateway_prefix_list_ids = dependency.network.outputs.gateway_prefix_list_ids
  log_kms_key_arn         = dependency.network.outputs.logs_kms_key_arn

  event_table_name            = dependency.data_stores.outputs.event_table_name
  event_table_arn             = dependency.data_stores.outputs.event_table_arn
  idempotency_table_name      = dependency.data_stores.outputs.idempotency_table_name
  idempotency_table_arn       = dependency.data_stores.outputs.idempotency_table_arn
  lake_bucket_name            = dependency.data_stores.outputs.lake_bucket_name
  lake_bucket_arn             = dependency.data_stores.outputs.lake_bucket_arn
  lake_kms_key_arn            = dependency.data_stores.outputs.lake_kms_key_arn
  region_state_parameter_name = dependency.data_stores.outputs.region_state_parameter_name
  region_state_parameter_arn  = dependency.data_stores.outputs.region_state_parameter_arn

  processing_queue_name = "sales-processing"
  processing_queue_url  = dependency.event_pipeline.outputs.processing_queue_url
  processing_queue_arn  = dependency.event_pipeline.outputs.processing_queue_arn
  processing_dlq_url    = dependency.event_pipeline.outputs.processing_dlq_url
  processing_dlq_arn    = dependency.event_pipeline.outputs.processing_dlq_arn
  messaging_kms_key_arn = dependency.event_pipeline.outputs.messaging_kms_key_arn

  api_min_tasks    = local.capacity.api_min
  api_max_tasks    = local.capacity.api_max
  worker_min_tasks = local.capacity.worker_min
  worker_max_tasks = local.capacity.worker_max

  container_insights    = local.features.container_insights
  autoscaling_enabled   = local.features.autoscaling
  wait_for_steady_state = local.features.wait_for_steady_state
  deletion_protection   = local.features.deletion_protection

  domain_name           = "api.${local.env.domain_name}"
  zone_id               = dependency.foundation.outputs.zone_id
  certificate_enabled   = local.features.certificate
  custom_domain_enabled = local.features.custom_domain
  edge_enabled          = local.features.edge

  api_resource_policy_enabled = local.features.api_resource_policy
}
