# The public hosted zone of the platform's domain: created here (then its
# name servers are delegated at the registrar), or an existing one adopted
# by name.

resource "aws_route53_zone" "this" {
  count = var.create ? 1 : 0

  name    = var.domain_name
  comment = "Sales platform (${var.domain_name})"
  tags    = var.tags
}

data "aws_route53_zone" "existing" {
  count = var.create ? 0 : 1

  name         = var.domain_name
  private_zone = false
}

locals {
  zone_id      = var.create ? aws_route53_zone.this[0].zone_id : data.aws_route53_zone.existing[0].zone_id
  name_servers = var.create ? aws_route53_zone.this[0].name_servers : data.aws_route53_zone.existing[0].name_servers
}
