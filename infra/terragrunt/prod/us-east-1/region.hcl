locals {
  region = "us-east-1"
  # The region's VPC; every region of an environment has its own,
  # non-overlapping block (a test checks it), so the VPCs can be peered or
  # routed to each other later without renumbering.
  vpc_cidr = "10.10.0.0/16"
}
