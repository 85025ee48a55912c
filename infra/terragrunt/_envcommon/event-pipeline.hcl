# Shared definition of the regional event-pipeline unit: topic, processing
# queue + DLQ, stream publisher, alarms (infra/modules/event-pipeline).
locals {
  env      = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
  features = local.env.features

  # Built by `task build:lambda`. SALES_STREAM_PUBLISHER_ZIP points elsewhere
  # (e.g. a test that runs before the function is built).
  package_path = get_env("SALES_STREAM_PUBLISHER_ZIP", "${get_repo_root()}/dist/stream-publisher.zip")
}

terraform {
  source = "${get_repo_root()}/infra/modules//event-pipeline"
}

dependency "data_stores" {
  config_path = "../data-stores"

  # validate needs no real outputs (nor state, nor credentials).
  skip_outputs = get_terraform_command() == "validate"
  mock_outputs = {
    event_table_arn  = "arn:aws:dynamodb:us-east-1:000000000000:table/sales-events"
    event_stream_arn = "arn:aws:dynamodb:us-east-1:000000000000:table/sales-events/stream/2000-01-01T00:00:00.000"
  }
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
}

inputs = {
  topic_name                = "sales-events"
  queue_name                = "sales-processing"
  dlq_name                  = "sales-processing-dlq"
  publisher_regions         = local.env.regions
  processing_budget_seconds = 30
  # The worker's deferrals (a live claim, a takeover delay, a PASSIVE
  # region's parking) are receives too: 10 keeps a message that is only
  # waiting out of the DLQ (docs/sales-worker.md).
  max_receive_count            = 10
  redrive_allow_policy_enabled = local.features.redrive_allow_policy
  function_name                = "sales-stream-publisher"
  package_path                 = local.package_path
  event_table_arn              = dependency.data_stores.outputs.event_table_arn
  event_stream_arn             = dependency.data_stores.outputs.event_stream_arn
  failure_queue_name           = "sales-stream-publisher-dlq"
  event_source_mapping_enabled = local.features.stream_event_source_mapping
  alarm_topic_name             = "sales-alarms"
  kms_deletion_window_days     = local.features.kms_deletion_window
}
