# Global unit cross-region-subscriptions: defined once in infra/terragrunt/_envcommon/global/cross-region-subscriptions.hcl.
include "root" {
  path = "${get_repo_root()}/terragrunt.hcl"
}

include "envcommon" {
  path = "${get_repo_root()}/infra/terragrunt/_envcommon/global/cross-region-subscriptions.hcl"
}
