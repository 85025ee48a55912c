# A Network Load Balancer with one TCP listener and one target group. Used
# twice per region: in front of the API's tasks (internal, the private API's
# VPC link target; targets registered by ECS) and at the edge (Global
# Accelerator's endpoint; targets are the private API's VPC endpoint
# addresses, TLS passed through to API Gateway).

resource "aws_security_group" "this" {
  name        = "${var.name}-nlb"
  description = "Network load balancer ${var.name}: listener from its clients, health checks and traffic to its targets"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nlb" })
}

# trivy:ignore:AVD-AWS-0107 Only the edge load balancer (Global Accelerator's endpoint) lists 0.0.0.0/0: its clients are the internet by design, its only targets are the private API's VPC endpoint, whose resource policy admits nothing else.
resource "aws_vpc_security_group_ingress_rule" "listener" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "Listener port from ${each.key}"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.this.id
  description       = "Traffic and health checks to the targets inside the VPC"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = var.target_port
  to_port           = var.target_port
  tags              = var.tags
}

# trivy:ignore:AVD-AWS-0053 The internal flag is an input: the service load balancer is internal; the edge one is internet-facing only because Global Accelerator needs a reachable endpoint, and it forwards to the private API alone (docs/adr/0060-edge-chain.md).
resource "aws_lb" "this" {
  name                             = var.name
  internal                         = var.internal
  load_balancer_type               = "network"
  subnets                          = var.subnet_ids
  security_groups                  = [aws_security_group.this.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection
  tags                             = var.tags
}

resource "aws_lb_target_group" "this" {
  name        = var.name
  port        = var.target_port
  protocol    = "TCP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # How long a deregistering target keeps its connections: the API's
  # graceful shutdown (SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT) fits inside it.
  deregistration_delay   = var.deregistration_delay_seconds
  connection_termination = true
  preserve_client_ip     = var.preserve_client_ip

  health_check {
    protocol            = var.health_check_path == "" ? "TCP" : "HTTP"
    path                = var.health_check_path == "" ? null : var.health_check_path
    matcher             = var.health_check_path == "" ? null : "200"
    port                = "traffic-port"
    interval            = var.health_check_interval_seconds
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "this" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# Fixed IP targets (the edge's VPC endpoint addresses); ECS registers the
# service's tasks itself. The count must be known at plan time.
resource "aws_lb_target_group_attachment" "ip" {
  count = var.ip_target_count

  target_group_arn = aws_lb_target_group.this.arn
  target_id        = var.ip_targets[count.index]
  port             = var.target_port
}
