# Global unit idempotency: defined once in infra/terragrunt/_envcommon/global/idempotency.hcl.
include "root" {
  path = "${get_repo_root()}/terragrunt.hcl"
}

include "envcommon" {
  path = "${get_repo_root()}/infra/terragrunt/_envcommon/global/idempotency.hcl"
}
