locals {
  region = "sa-east-1"
  # The region's VPC; every region of an environment has its own,
  # non-overlapping block (a test checks it).
  vpc_cidr = "10.20.0.0/16"
}
