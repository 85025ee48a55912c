# Shared definition of the regional data-stores unit: event store,
# idempotency table, lake, region state (infra/modules/data-stores).
#
# prod:  the global layer creates both tables as global tables with a replica
#        in every other region; this unit reads its own region's table (the
#        replica in a replica region) and exposes its stream ARN.
# local: each region creates its own independent tables (moto has no global
#        tables; the development replication stand-in copies between them).
locals {
  env      = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
  env_dir  = dirname(find_in_parent_folders("env.hcl"))
  region   = read_terragrunt_config(find_in_parent_folders("region.hcl")).locals.region
  features = local.env.features
}

terraform {
  source = "${get_repo_root()}/infra/modules//data-stores"
}

dependencies {
  paths = local.features.global_tables ? [
    "${local.env_dir}/_global/event-store",
    "${local.env_dir}/_global/idempotency",
  ] : []
}

inputs = {
  event_table_name             = "sales-events"
  idempotency_table_name       = "sales-idempotency"
  create_tables                = !local.features.global_tables
  lake_name                    = "sales-lake-${local.env.env}-${local.region}"
  lake_append_account_id       = local.env.lake_name_with_account_id
  region_state_parameter       = "/sales/region-state"
  initial_region_state         = "ACTIVE"
  deletion_protection          = local.features.deletion_protection
  force_destroy                = local.features.force_destroy
  lake_deny_insecure_transport = try(local.features.tls_only, true)
  kms_deletion_window_days     = local.features.kms_deletion_window
}
