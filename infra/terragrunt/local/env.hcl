# The local environment: the same modules and units as prod, applied to moto
# (the embedded AWS emulator) on loopback. AWS_ENDPOINT_URL names it; the
# AWS provider and SDKs honour that variable for every service.
locals {
  env            = "local"
  primary_region = "us-east-1"

  # Every region folder of this environment (folders starting with "_" are
  # layers, not regions). Queue policies and the global layer derive from
  # it, so a new region folder joins without editing anything else.
  regions = sort([
    for f in fileset(get_terragrunt_dir(), "*/region.hcl") : dirname(f)
    if !startswith(dirname(f), "_")
  ])

  # moto_server's own default port when the caller names none.
  endpoint = get_env("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")

  # Created before the first apply by `task infra:local:apply` (Terragrunt's
  # own bucket bootstrap cannot speak path-style S3 to an emulator). State
  # lives in moto with the resources, so it never outlives them: a fresh
  # moto is a fresh environment.
  state_bucket_prefix = "sales-tfstate-local"

  # Fake credentials of the emulator, written here so the local environment
  # can never pick up an operator's real credentials from the environment.
  provider_settings = <<-EOT
    access_key                  = "testing"
    secret_key                  = "testing"
    skip_credentials_validation = true
    skip_metadata_api_check     = true
    s3_use_path_style           = true
  EOT

  backend_settings = {
    endpoints                   = { s3 = local.endpoint }
    use_path_style              = true
    access_key                  = "testing"
    secret_key                  = "testing"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }

  # Each run may name another emulator (a new port, a fresh moto): the state
  # lives in that emulator, so there is never anything to migrate.
  init_arguments = ["-reconfigure"]

  # Every terraform process of this environment talks to the emulator only.
  terraform_env = {
    AWS_ENDPOINT_URL          = local.endpoint
    AWS_ACCESS_KEY_ID         = "testing"
    AWS_SECRET_ACCESS_KEY     = "testing"
    AWS_SESSION_TOKEN         = ""
    AWS_EC2_METADATA_DISABLED = "true"
  }

  # Bucket names need no account id against an emulator.
  lake_name_with_account_id = false

  # A made-up domain: moto hosts the zone and issues the certificate.
  domain_name       = "sales.local.test"
  create_dns_zone   = true
  github_repository = "salesplatform/sales-platform"
  # No image is pulled: moto runs no tasks.
  image_tag = "local"

  # What moto cannot do, switched off here and only here (each with why).
  # Whole units that only exist for those features are absent from
  # local/_global (see local/_global/README.md).
  features = {
    # `replica {}` blocks hang: moto ignores ReplicaUpdates, the replica
    # region's table never appears. Each region gets its own table instead
    # and the development replication stand-in copies items between them.
    global_tables = false
    # aws_sqs_queue_redrive_allow_policy hangs against moto.
    redrive_allow_policy = false
    # moto runs a mapping's function in Docker on every table write and,
    # without Docker, empties the stream shard: the local runner of the
    # stream publisher reads the stream instead (functions/stream-publisher).
    stream_event_source_mapping = false
    # Throw-away environment: destroy must be able to delete everything.
    deletion_protection = false
    force_destroy       = true
    # moto is reached over plain HTTP on loopback: a TLS-only bucket policy
    # (which moto enforces) would refuse every object of the lake.
    tls_only            = false
    kms_deletion_window = 7

    # Compute and edge (issue 7). The local stack runs the services as local
    # processes, so these units are applied by the infrastructure test only
    # (task infra:local:apply COMPUTE=1), never by `task up`.
    nat_gateways       = "single"
    container_insights = "enabled"
    # aws_appautoscaling_target hangs against moto (ListTagsForResource is
    # not implemented): no autoscaling targets or policies.
    autoscaling = false
    # moto issues the certificate once its Route 53 validation record exists.
    certificate = true
    # moto keeps no resource policy on an API Gateway domain name and hangs
    # when the provider then updates it (measured): no private custom
    # domain, base path mapping or access association.
    custom_domain = false
    # The edge load balancer in front of the execute-api endpoint applies
    # (moto gives the endpoint its network interfaces).
    edge = true
    # Global Accelerator has no moto backend (HTTP 500, the provider retries
    # forever): no _global/routing unit; the local edge (dev/edge) stands in.
    global_accelerator = false
    # moto starts no tasks: a deployment never becomes stable.
    wait_for_steady_state = false
    ecr_force_delete      = true
    # moto knows AWS's managed policies only when started with
    # MOTO_IAM_LOAD_MANAGED_POLICIES=true (and then takes seconds longer
    # per start): the CI roles get their own inline policies only.
    aws_managed_policies = false
    # moto returns a REST API's resource policy as plain JSON where AWS
    # escapes it; the provider cannot read it back ("invalid character").
    # Nothing invokes the private API locally (the local edge calls the
    # services directly).
    api_resource_policy = false
  }
}
