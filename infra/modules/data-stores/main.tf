# The stateful stores of one region, deployed together as one unit: they
# change rarely, are protected against deletion, and share a lifecycle that
# is different from the event pipeline's (docs/adr/0012-unit-granularity.md).

module "event_store" {
  source = "../event-store"

  name                = var.event_table_name
  create_table        = var.create_tables
  deletion_protection = var.deletion_protection
  tags                = var.tags
}

module "idempotency" {
  source = "../idempotency"

  name                = var.idempotency_table_name
  create_table        = var.create_tables
  deletion_protection = var.deletion_protection
  tags                = var.tags
}

module "lake" {
  source = "../lake"

  name                     = var.lake_name
  append_account_id        = var.lake_append_account_id
  force_destroy            = var.force_destroy
  kms_deletion_window_days = var.kms_deletion_window_days
  deny_insecure_transport  = var.lake_deny_insecure_transport
  tags                     = var.tags
}

module "region_state" {
  source = "../region-state"

  name          = var.region_state_parameter
  initial_state = var.initial_region_state
  tags          = var.tags
}
