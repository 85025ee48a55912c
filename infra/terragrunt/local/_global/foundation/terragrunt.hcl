# Global unit foundation: defined once in infra/terragrunt/_envcommon/global/foundation.hcl.
include "root" {
  path = "${get_repo_root()}/terragrunt.hcl"
}

include "envcommon" {
  path = "${get_repo_root()}/infra/terragrunt/_envcommon/global/foundation.hcl"
}
