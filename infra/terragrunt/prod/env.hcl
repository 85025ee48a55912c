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

  # Plans of this very layout against the local emulator (task infra:test):
  # SALES_PROD_PLAN_EMULATOR names a moto on loopback; then every provider,
  # backend and terraform process of prod talks to it with the emulator's
  # fake credentials, never to AWS. Any other value is ignored.
  plan_emulator = get_env("SALES_PROD_PLAN_EMULATOR", "")
  on_emulator   = can(regex("^http://127\\.0\\.0\\.1:[0-9]+/?$", local.plan_emulator))

  emulator_provider_settings = <<-EOT
    access_key                  = "testing"
    secret_key                  = "testing"
    skip_credentials_validation = true
    skip_metadata_api_check     = true
    s3_use_path_style           = true
  EOT
  provider_settings          = local.on_emulator ? local.emulator_provider_settings : (local.account_id == "" ? "" : "allowed_account_ids = [\"${local.account_id}\"]")

  # A for expression, not `cond ? {...} : {}`: the two results of a
  # conditional must have the same object type.
  backend_settings = { for k, v in {
    endpoints                   = { s3 = local.plan_emulator }
    use_path_style              = true
    access_key                  = "testing"
    secret_key                  = "testing"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  } : k => v if local.on_emulator }

  init_arguments = local.on_emulator ? ["-reconfigure"] : []

  # An endpoint override left in an operator's shell must never redirect
  # production: the SDK ignores configured endpoint URLs (except in the
  # emulator plan above, which sets its own).
  terraform_env = local.on_emulator ? {
    AWS_ENDPOINT_URL          = local.plan_emulator
    AWS_ACCESS_KEY_ID         = "testing"
    AWS_SECRET_ACCESS_KEY     = "testing"
    AWS_SESSION_TOKEN         = ""
    AWS_EC2_METADATA_DISABLED = "true"
    } : {
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "true"
  }

  # Bucket names are global across every AWS account.
  lake_name_with_account_id = true

  # The platform's domain: the API answers at api.<domain>. The hosted zone
  # is created by _global/foundation (then delegated at the registrar), or
  # adopted when SALES_DNS_ZONE_EXISTS=true.
  domain_name     = get_env("SALES_DOMAIN", "sales.example.com")
  create_dns_zone = get_env("SALES_DNS_ZONE_EXISTS", "false") != "true"

  # The repository whose GitHub Actions may assume the CI roles (OIDC).
  github_repository = get_env("SALES_GITHUB_REPOSITORY", "salesplatform/sales-platform")

  # The image both services run: the commit the pipeline built and pushed
  # (task deploy refuses prod without it; "unset" only lets validate and
  # plan run).
  image_tag = get_env("SALES_IMAGE_TAG", "unset")

  features = {
    global_tables               = true
    redrive_allow_policy        = true
    stream_event_source_mapping = true
    deletion_protection         = true
    force_destroy               = false
    tls_only                    = true
    kms_deletion_window         = 30

    # Compute and edge (issue 7).
    nat_gateways          = "per_az"
    container_insights    = "enabled"
    autoscaling           = true
    certificate           = true
    custom_domain         = true
    edge                  = true
    global_accelerator    = true
    wait_for_steady_state = true
    ecr_force_delete      = false
    aws_managed_policies  = true
    api_resource_policy   = true
  }
}
