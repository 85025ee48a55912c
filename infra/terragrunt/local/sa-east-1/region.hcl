locals {
  region = "sa-east-1"
}
