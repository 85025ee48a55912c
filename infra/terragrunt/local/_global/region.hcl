# The global layer: cross-region pieces. Its state and default provider live
# in the environment's primary region; it also gets one aliased provider per
# region (aws.us_east_1, aws.sa_east_1, ...) for the pieces that must be
# created in a given region.
locals {
  region = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals.primary_region
  global = true
}
