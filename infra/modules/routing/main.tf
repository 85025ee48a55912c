# Global Accelerator in front of every region: two static anycast addresses,
# one TCP listener on 443, and one endpoint group per region whose traffic
# dial turns that region's traffic on (100) or off (0). The dials are the
# failover command's to set (salesctl failover / region set): Terraform
# sets them once and then leaves them alone, like the region state
# parameter. Route 53 points the API's name at the accelerator.

resource "aws_globalaccelerator_accelerator" "this" {
  name            = var.name
  ip_address_type = "IPV4"
  enabled         = true
  tags            = var.tags
}

resource "aws_globalaccelerator_listener" "https" {
  accelerator_arn = aws_globalaccelerator_accelerator.this.id
  protocol        = "TCP"
  # A client keeps its region for the life of its connections.
  client_affinity = "SOURCE_IP"

  port_range {
    from_port = 443
    to_port   = 443
  }
}

resource "aws_globalaccelerator_endpoint_group" "region" {
  for_each = var.regions

  listener_arn          = aws_globalaccelerator_listener.https.id
  endpoint_group_region = each.key

  # GA probes its endpoints itself only for EC2 and EIP endpoints; for a
  # load balancer it uses the load balancer's target health. These settings
  # apply if an endpoint of another kind is ever added.
  health_check_protocol         = "TCP"
  health_check_port             = 443
  health_check_interval_seconds = 10
  threshold_count               = 3
  traffic_dial_percentage       = each.value.initial_traffic_dial

  dynamic "endpoint_configuration" {
    for_each = each.value.endpoint_arn == "" ? [] : [each.value.endpoint_arn]
    content {
      endpoint_id                    = endpoint_configuration.value
      weight                         = 100
      client_ip_preservation_enabled = var.client_ip_preservation
    }
  }

  # A failover moves the dials outside Terraform; the next apply must not
  # undo it.
  lifecycle {
    ignore_changes = [traffic_dial_percentage]
  }
}

resource "aws_route53_record" "api" {
  for_each = var.zone_id == "" ? toset([]) : toset(["A"])

  zone_id = var.zone_id
  name    = var.record_name
  type    = each.key

  alias {
    name                   = aws_globalaccelerator_accelerator.this.dns_name
    zone_id                = aws_globalaccelerator_accelerator.this.hosted_zone_id
    evaluate_target_health = true
  }
}

# What the failover command needs on the accelerator: read and move the
# dials of these endpoint groups, nothing else.
data "aws_iam_policy_document" "traffic_operator" {
  statement {
    sid       = "MoveTrafficDials"
    actions   = ["globalaccelerator:DescribeEndpointGroup", "globalaccelerator:UpdateEndpointGroup"]
    resources = [for g in aws_globalaccelerator_endpoint_group.region : g.arn]
  }

  statement {
    sid       = "ReadAccelerator"
    actions   = ["globalaccelerator:DescribeAccelerator", "globalaccelerator:DescribeListener", "globalaccelerator:ListEndpointGroups"]
    resources = [aws_globalaccelerator_accelerator.this.id, aws_globalaccelerator_listener.https.id]
  }
}

resource "aws_iam_policy" "traffic_operator" {
  name        = "${var.name}-traffic-operator"
  description = "Move the traffic dials of ${var.name} (attach to the operator role only)"
  policy      = data.aws_iam_policy_document.traffic_operator.json
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "operator" {
  for_each = toset(var.operator_role_names)

  role       = each.key
  policy_arn = aws_iam_policy.traffic_operator.arn
}
