# The production environment: real AWS, us-east-1 (primary) and sa-east-1.
locals {
  env            = "prod"
  primary_region = "us-east-1"

  # Every region folder of this environment (folders starting with "_" are
  # layers, not regions). Queue policies and the global layer derive from
  # it, so a new region folder joins without editing anything else.
  regions = sort([
    for f in fileset(get_terragrunt_dir(), "*/region.hcl") : dirname(f)
    if !startswith(dirname(f), "_")
  ])

  # One state bucket per region ("<prefix>-<region>"), created once with
  # `terragrunt run --all apply --backend-bootstrap` (see docs/infrastructure.md).
  state_bucket_prefix = get_env("SALES_TF_STATE_BUCKET_PREFIX", "sales-platform-tfstate-prod")

  # When set, every provider refuses to act on any other account.
  account_id = get_env("SALES_PROD_ACCOUNT_ID", "")

  provider_settings = local.account_id == "" ? "" : "allowed_account_ids = [\"${local.account_id}\"]"

  backend_settings = {}

  # An endpoint override left in an operator's shell must never redirect
  # production: the SDK ignores configured endpoint URLs.
  terraform_env = {
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "true"
  }

  # Bucket names are global across every AWS account.
  lake_name_with_account_id = true

  features = {
    global_tables               = true
    redrive_allow_policy        = true
    stream_event_source_mapping = true
    deletion_protection         = true
    force_destroy               = false
    tls_only                    = true
    kms_deletion_window         = 30
  }
}
