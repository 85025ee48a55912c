# The region's API entry: a private REST API reachable only through its
# own execute-api VPC endpoint, proxying every path through a VPC link to
# the internal load balancer in front of the API's tasks. The stage throttles
# and writes access logs; a WAF web ACL with a per-client rate rule guards
# it; a JWT (Cognito user pool) authorizer exists only when asked for, so
# the original clients keep working. Optionally a custom domain (ACM
# certificate per region, validated in Route 53) and the edge load balancer
# that passes TLS from Global Accelerator through to the VPC endpoint.
# Why REST and not an HTTP API: docs/adr/0060-edge-chain.md.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  jwt_enabled   = length(var.jwt_user_pool_arns) > 0
  authorization = local.jwt_enabled ? "COGNITO_USER_POOLS" : "NONE"
}

# --- The private API's VPC endpoint -----------------------------------------

resource "aws_security_group" "endpoint" {
  name        = "${var.name}-execute-api"
  description = "execute-api endpoint of the private API ${var.name}: HTTPS from the edge load balancer and the VPC"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-execute-api" })
}

# trivy:ignore:AVD-AWS-0107 The edge load balancer preserves client addresses, so the endpoint sees internet sources; it sits in private subnets with no inbound route from the internet, and only the edge load balancer forwards to it (docs/adr/0060-edge-chain.md).
resource "aws_vpc_security_group_ingress_rule" "endpoint_https" {
  for_each = toset(var.endpoint_ingress_cidr_blocks)

  security_group_id = aws_security_group.endpoint.id
  description       = "HTTPS to the private API from ${each.key}"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

# Private DNS stays off: the endpoint is reached through the custom domain
# (or the edge load balancer), and the VPC's own calls to other APIs'
# execute-api names keep resolving publicly.
resource "aws_vpc_endpoint" "execute_api" {
  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${local.region}.execute-api"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoint.id]
  private_dns_enabled = false
  tags                = merge(var.tags, { Name = "${var.name}-execute-api" })
}

# --- The API ------------------------------------------------------------------

resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = "Sales API of ${local.region} (private: only through its VPC endpoint)"

  endpoint_configuration {
    types            = ["PRIVATE"]
    vpc_endpoint_ids = [aws_vpc_endpoint.execute_api.id]
  }

  tags = var.tags
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "InvokeThroughOwnEndpoint"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this.execution_arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = [aws_vpc_endpoint.execute_api.id]
    }
  }
}

resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.resource_policy_enabled ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy      = data.aws_iam_policy_document.api.json
}

resource "aws_api_gateway_vpc_link" "this" {
  name        = var.name
  description = "Private integration of ${var.name} with its internal load balancer"
  target_arns = [var.integration_lb_arn]
  tags        = var.tags
}

resource "aws_api_gateway_authorizer" "jwt" {
  count = local.jwt_enabled ? 1 : 0

  name            = "${var.name}-jwt"
  rest_api_id     = aws_api_gateway_rest_api.this.id
  type            = "COGNITO_USER_POOLS"
  provider_arns   = var.jwt_user_pool_arns
  identity_source = "method.request.header.Authorization"
}

# Every path goes to the service as it came (the API's own router answers
# 404/405): a greedy proxy resource and the root.
resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

# trivy:ignore:AVD-AWS-0004 Authorization is off by default so that the original clients keep working (DESIGN §7); jwt_user_pool_arns turns the JWT authorizer on.
resource "aws_api_gateway_method" "proxy" {
  rest_api_id        = aws_api_gateway_rest_api.this.id
  resource_id        = aws_api_gateway_resource.proxy.id
  http_method        = "ANY"
  authorization      = local.authorization
  authorizer_id      = local.jwt_enabled ? aws_api_gateway_authorizer.jwt[0].id : null
  request_parameters = { "method.request.path.proxy" = true }
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = aws_api_gateway_method.proxy.http_method
  type                    = "HTTP_PROXY"
  integration_http_method = "ANY"
  uri                     = "http://${var.integration_lb_dns_name}:${var.integration_port}/{proxy}"
  connection_type         = "VPC_LINK"
  connection_id           = aws_api_gateway_vpc_link.this.id
  timeout_milliseconds    = var.integration_timeout_ms
  request_parameters      = { "integration.request.path.proxy" = "method.request.path.proxy" }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever what it serves changes.
  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy.id,
      aws_api_gateway_method.proxy,
      aws_api_gateway_integration.proxy,
      data.aws_iam_policy_document.api.json,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/sales/api-gateway/${var.name}"
  retention_in_days = var.access_log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# API Gateway writes access logs through one account-wide role per region.
data "aws_iam_policy_document" "cloudwatch_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0

  name               = "apigateway-cloudwatch-${local.region}"
  assume_role_policy = data.aws_iam_policy_document.cloudwatch_assume.json
  tags               = var.tags
}

# The service creates and describes log groups and streams of this account
# and region (the AWS managed policy grants the same on "*").
data "aws_iam_policy_document" "cloudwatch" {
  statement {
    sid = "WriteApiLogs"
    actions = [
      "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
      "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
  }
}

resource "aws_iam_role_policy" "cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0

  name   = "api-gateway-logs"
  role   = aws_iam_role.cloudwatch[0].id
  policy = data.aws_iam_policy_document.cloudwatch.json
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy.cloudwatch]
}

# trivy:ignore:AVD-AWS-0003 X-Ray tracing is off: its write actions take no resource-level permission, and requests are traced by the X-Request-Id the API returns and logs.
resource "aws_api_gateway_stage" "this" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.stage_name

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      requestTime      = "$context.requestTimeEpoch"
      httpMethod       = "$context.httpMethod"
      path             = "$context.path"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      latencyMs        = "$context.responseLatency"
      integrationMs    = "$context.integration.latency"
      integrationError = "$context.integration.error"
      wafStatus        = "$context.waf.status"
      userAgent        = "$context.identity.userAgent"
    })
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

# trivy:ignore:AVD-AWS-0190 No response cache: a GET must show an append at once (a cached sale would hide its processing or cancellation).
resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
    caching_enabled        = false
  }
}

# --- WAF ------------------------------------------------------------------------

resource "aws_wafv2_web_acl" "this" {
  name        = var.name
  description = "Rate limit per client address and known bad inputs, in front of ${var.name}"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-client"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = var.waf_rate_limit_per_5_minutes
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-per-client"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

resource "aws_wafv2_web_acl_association" "stage" {
  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

# --- Custom domain (per region: same name, each region's own certificate) ----

resource "aws_acm_certificate" "api" {
  count = var.certificate_enabled ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = var.certificate_enabled ? {
    for o in aws_acm_certificate.api[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id = var.zone_id
  name    = each.value.resource_record_name
  type    = each.value.resource_record_type
  records = [each.value.resource_record_value]
  ttl     = 300
  # Every region's certificate for the same name asks for the same record.
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  count = var.certificate_enabled ? 1 : 0

  certificate_arn         = aws_acm_certificate.api[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

data "aws_iam_policy_document" "domain" {
  count = var.custom_domain_enabled ? 1 : 0

  statement {
    sid       = "InvokeThroughOwnEndpoint"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = [aws_vpc_endpoint.execute_api.id]
    }
  }
}

resource "aws_api_gateway_domain_name" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  domain_name     = var.domain_name
  certificate_arn = aws_acm_certificate_validation.api[0].certificate_arn
  security_policy = "TLS_1_2"
  policy          = data.aws_iam_policy_document.domain[0].json

  endpoint_configuration {
    types = ["PRIVATE"]
  }

  tags = var.tags
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  api_id         = aws_api_gateway_rest_api.this.id
  stage_name     = aws_api_gateway_stage.this.stage_name
  domain_name    = aws_api_gateway_domain_name.this[0].domain_name
  domain_name_id = aws_api_gateway_domain_name.this[0].domain_name_id
}

resource "aws_api_gateway_domain_name_access_association" "this" {
  count = var.custom_domain_enabled ? 1 : 0

  access_association_source      = aws_vpc_endpoint.execute_api.id
  access_association_source_type = "VPCE"
  domain_name_arn                = aws_api_gateway_domain_name.this[0].arn
  tags                           = var.tags
}

# --- Edge: Global Accelerator's endpoint in this region ------------------------

# The endpoint's addresses, one per subnet (the count is known at plan).
data "aws_network_interface" "endpoint" {
  count = var.edge_enabled ? length(var.subnet_ids) : 0

  id = sort(tolist(aws_vpc_endpoint.execute_api.network_interface_ids))[count.index]
}

module "edge" {
  source = "../load-balancer"
  count  = var.edge_enabled ? 1 : 0

  name                = "${var.name}-edge"
  internal            = var.edge_internal
  vpc_id              = var.vpc_id
  vpc_cidr_block      = var.vpc_cidr_block
  subnet_ids          = var.edge_subnet_ids
  ingress_cidr_blocks = ["0.0.0.0/0"]
  listener_port       = 443
  target_port         = 443
  # TLS is passed through to the endpoint: a TCP check.
  health_check_path            = ""
  deregistration_delay_seconds = 30
  preserve_client_ip           = true
  ip_targets                   = data.aws_network_interface.endpoint[*].private_ip
  ip_target_count              = length(var.subnet_ids)
  deletion_protection          = var.deletion_protection
  tags                         = merge(var.tags, { "sales:role" = "edge" })
}
