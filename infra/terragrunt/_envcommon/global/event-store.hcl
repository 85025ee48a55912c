# Shared definition of the global event-store unit: the global table
# (version 2019.11.21) created in the primary region with a replica in every
# other region folder of the environment. Only where global tables exist.
locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${get_repo_root()}/infra/modules//event-store"
}

inputs = {
  name                = "sales-events"
  create_table        = true
  replica_regions     = [for r in local.env.regions : r if r != local.env.primary_region]
  deletion_protection = local.env.features.deletion_protection
}
