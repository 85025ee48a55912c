# The event pipeline of one region, deployed together as one unit: the
# region's topic and processing queues, the stream publisher that feeds the
# topic from the event store stream, and the alarms watching both. The
# other regions' topics subscribe to this region's queue from the global
# layer (docs/adr/0012-unit-granularity.md).

module "messaging" {
  source = "../messaging"

  topic_name                   = var.topic_name
  queue_name                   = var.queue_name
  dlq_name                     = var.dlq_name
  publisher_regions            = var.publisher_regions
  processing_budget_seconds    = var.processing_budget_seconds
  max_receive_count            = var.max_receive_count
  redrive_allow_policy_enabled = var.redrive_allow_policy_enabled
  kms_deletion_window_days     = var.kms_deletion_window_days
  tags                         = var.tags
}

module "stream_publisher" {
  source = "../stream-publisher"

  function_name                = var.function_name
  package_path                 = var.package_path
  table_arn                    = var.event_table_arn
  stream_arn                   = var.event_stream_arn
  topic_arn                    = module.messaging.topic_arn
  messaging_kms_key_arn        = module.messaging.kms_key_arn
  failure_queue_name           = var.failure_queue_name
  event_source_mapping_enabled = var.event_source_mapping_enabled
  tags                         = var.tags
}

module "observability" {
  source = "../observability"

  alarm_topic_name             = var.alarm_topic_name
  processing_queue_name        = module.messaging.queue_name
  processing_dlq_name          = module.messaging.dlq_name
  publisher_failure_queue_name = module.stream_publisher.failure_queue_name
  publisher_function_name      = module.stream_publisher.function_name
  kms_deletion_window_days     = var.kms_deletion_window_days
  tags                         = var.tags
}
