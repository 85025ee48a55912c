# Shared definition of the regional network unit: VPC, subnets over three
# zones, NAT, VPC endpoints, flow logs, the region's log key
# (infra/modules/network). The CIDR block comes from region.hcl.
locals {
  env    = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
  region = read_terragrunt_config(find_in_parent_folders("region.hcl")).locals
}

terraform {
  source = "${get_repo_root()}/infra/modules//network"
}

inputs = {
  name                     = "sales"
  cidr_block               = local.region.vpc_cidr
  az_count                 = 3
  nat_gateways             = local.env.features.nat_gateways
  kms_deletion_window_days = local.env.features.kms_deletion_window
}
