# Shared definition of the global idempotency unit: the worker's claims as a
# global table with a replica in every other region.
locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${get_repo_root()}/infra/modules//idempotency"
}

inputs = {
  name                = "sales-idempotency"
  create_table        = true
  replica_regions     = [for r in local.env.regions : r if r != local.env.primary_region]
  deletion_protection = local.env.features.deletion_protection
}
