# Unit services: defined once in infra/terragrunt/_envcommon/services.hcl; env.hcl
# and region.hcl above select the environment and the region.
include "root" {
  path = "${get_repo_root()}/terragrunt.hcl"
}

include "envcommon" {
  path = "${get_repo_root()}/infra/terragrunt/_envcommon/services.hcl"
}
